import { v7 as uuidv7 } from 'uuid';
import { normalizeGtin } from '../../model/master-data/gs1-keys';
import { failAt, type MaterialDefinitionRecord } from './b2mml-records';
import { canonicalUom } from './b2mml-uom';
import { CANONICAL, type B2mmlWriter, type MesMaterial } from './b2mml-writer';

/**
 * Merges a MaterialDefinition into materials by internal code: a known material (by GTIN, code or
 * internal identifier) keeps its master data and gains what it lacks (description, the MES id as
 * `internal` identifier, the GTIN); a provisional one is adopted (MES description, unit and kind
 * win); an unknown one is created (code = MES id, not provisional: the MES is a master for it).
 * @returns 'created' | 'updated' | 'unchanged'
 */
export async function applyB2mmlMaterialDefinition(w: B2mmlWriter, d: MaterialDefinitionRecord): Promise<'created' | 'updated' | 'unchanged'> {
  let gtin: string | undefined;
  if (d.gtin !== undefined) {
    const g = normalizeGtin(d.gtin);
    if (!g.ok) {
      throw failAt('LB_ERR_B2MML_REQUIRED', d.at, `MaterialDefinition ${d.id}: GTIN ${d.gtin}: ${g.reason}`, { gtin: d.gtin });
    }
    gtin = g.gtin;
  }
  const found = await w.findMaterials(gtin ? [gtin, d.id] : [d.id]);
  const known = (gtin ? found.get(gtin) : undefined) ?? found.get(d.id);
  const baseUom = d.baseUom ? canonicalUom(d.baseUom) : undefined;
  const identifiers = [{ scheme: 'internal', value: d.id, packagingLevel: 'each', quantityPerLevel: 1 }, ...(gtin ? [{ scheme: 'gtin', value: gtin, packagingLevel: 'each', quantityPerLevel: 1 }] : [])];
  let material: MesMaterial;
  let outcome: 'created' | 'updated' | 'unchanged';
  if (!known) {
    if (d.id.length > 64) {
      throw failAt('LB_ERR_B2MML_REQUIRED', d.at, `MaterialDefinition ID "${d.id.slice(0, 20)}…" is longer than 64 characters`);
    }
    const row = { code: d.id, description: d.description ?? null, kind: d.kind ?? 'finished', baseUom: baseUom ?? 'EA', lotControlled: true, serialControlled: false, implantable: d.kind === 'implant', provisional: false, identifiers };
    w.ctx.validate(CANONICAL.material, row);
    const [ins] = await w.trx('materials')
      .insert({ id: uuidv7(), code: d.id, description: row.description, kind: row.kind, base_uom: row.baseUom, implantable: row.implantable, provisional: false, source_message_id: w.lineage.sourceMessageId, ordinal: w.lineage.nextOrdinal() })
      .returning<MesMaterial[]>(['id', 'code', 'base_uom', 'kind', 'provisional']);
    material = ins;
    outcome = 'created';
    w.summary.created.materials++;
    await w.ctx.audit({ action: 'material.create', entityType: 'material', entityId: material.id, after: { code: d.id, description: row.description, kind: row.kind, baseUom: row.baseUom, gtin: gtin ?? null }, reason: `MES MaterialDefinition at ${d.at.path}` });
  } else if (known.provisional) {
    const before = { description: null as string | null, kind: known.kind, baseUom: known.base_uom, provisional: true };
    const [upd] = await w.trx('materials')
      .where({ id: known.id })
      .update({ provisional: false, ...(d.description ? { description: d.description } : {}), ...(d.kind ? { kind: d.kind } : {}), ...(baseUom ? { base_uom: baseUom } : {}), updated_at: w.trx.fn.now() })
      .returning<MesMaterial[]>(['id', 'code', 'base_uom', 'kind', 'provisional']);
    material = upd;
    outcome = 'updated';
    await w.ctx.audit({ action: 'material.adopt', entityType: 'material', entityId: material.id, before, after: { description: d.description ?? null, kind: material.kind, baseUom: material.base_uom, provisional: false }, reason: `MES MaterialDefinition ${d.id} at ${d.at.path}` });
  } else {
    material = known;
    const n = await w.trx('materials').where({ id: known.id }).whereNull('description').update({ description: d.description ?? null, updated_at: w.trx.fn.now() });
    outcome = d.description && n > 0 ? 'updated' : 'unchanged';
    if (baseUom && baseUom !== known.base_uom) {
      w.mismatch(`material ${d.id}: MES base unit ${baseUom} kept as master data's ${known.base_uom}`);
    }
  }
  const idRows = identifiers.map((i) => ({ material_id: material.id, scheme: i.scheme, value: i.value, packaging_level: 'each', quantity_per_level: 1 }));
  await w.trx('material_identifiers').insert(idRows).onConflict(['scheme', 'value']).ignore();
  if (gtin) {
    const owner = await w.trx('material_identifiers').where({ scheme: 'gtin', value: gtin }).first<{ material_id: string }>('material_id');
    if (owner && owner.material_id !== material.id) {
      w.mismatch(`material ${d.id}: GTIN ${gtin} belongs to another material and was not added`);
    }
  }
  w.summary.materialDefinitions++;
  return outcome;
}
