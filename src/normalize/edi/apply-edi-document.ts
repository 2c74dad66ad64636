import type { NewAlert } from '../../model/alerts/open-alert';
import type { DbEdiPartnerRow } from '../../model/edi/edi-partners';
import type { EdiDocument } from '../../parsers/edi/edi-documents';
import type { WmsWriter } from '../wms/wms-writer';
import { applyAsn } from './apply-asn';
import { applyFunctionalAck, applyInboundOrder, applyInventoryReport, applyInvoice, applyOrderResponse, applyReceivingAdvice } from './apply-edi-business';

/** The alert raised when LOTBRIDGE_EDI_UNKNOWN_PARTNERS=accept let an unknown sender in. */
export function provisionalPartnerAlert(partner: DbEdiPartnerRow, qualifier: string): NewAlert {
  const who = `${qualifier ? `${qualifier}:` : ''}${partner.interchange_id}`;
  return {
    type: 'edi_partner_provisional',
    severity: 'warning',
    subjectType: 'party',
    subjectId: partner.id,
    message: `${partner.standard === 'x12' ? 'X12' : 'EDIFACT'} sender ${who} is no configured trading partner; a provisional partner was created (LOTBRIDGE_EDI_UNKNOWN_PARTNERS=accept). Complete it with PUT /api/v1/partners/${partner.id}.`,
    details: { partnerId: partner.id, standard: partner.standard, qualifier, interchangeId: partner.interchange_id },
    dedupKey: `edi_partner_provisional:${partner.id}`,
  };
}

/**
 * Maps one EDI document into the canonical model (ASN → shipment, lots, in-transit stock; the
 * others as their mappers describe); documents other than ASNs also go to flows as an `edi.document` event.
 * @returns facts for the message summary
 */
export async function applyEdiDocument(w: WmsWriter, doc: EdiDocument, partner: DbEdiPartnerRow): Promise<Record<string, unknown>> {
  let facts: Record<string, unknown>;
  switch (doc.kind) {
    case 'asn':
      facts = { ...(await applyAsn(w, doc, partner)) };
      break;
    case 'order':
      facts = await applyInboundOrder(w, doc, partner);
      break;
    case 'order_response':
      facts = await applyOrderResponse(w, doc, partner);
      break;
    case 'invoice':
      facts = await applyInvoice(w, doc, partner);
      break;
    case 'inventory_report':
      facts = await applyInventoryReport(w, doc, partner);
      break;
    case 'receiving_advice':
      facts = await applyReceivingAdvice(w, doc, partner);
      break;
    case 'functional_ack':
      return applyFunctionalAck(w, doc, partner);
  }
  if (doc.kind !== 'asn') {
    // an ASN is announced by shipment.expected (its lines can run to thousands)
    await w.ctx.emit('edi.document', { kind: doc.kind, partnerId: partner.id, document: doc as unknown as Record<string, unknown> });
  }
  return facts;
}
