import { Option, type Command } from 'commander';
import type { Db } from '../db/knex';
import { createPartner, getPartner, listPartners, updatePartner, type PartnerInput, type PartnerView } from '../model/edi/edi-partner-admin';

function line(p: PartnerView): string {
  const who = `${p.standard.padEnd(7)} ${(p.qualifier ? `${p.qualifier}:` : '') + p.interchangeId}`;
  const flags = [p.provisional ? 'provisional' : '', p.active ? '' : 'inactive (rejected sender)'].filter(Boolean).join(', ');
  return `${p.id}  ${who.padEnd(34)} ${p.ackType.padEnd(6)} next ISA13/UNB ${p.controlNumbers.nextInterchange} (used up to ${p.controlNumbers.usedUpTo})  ${p.name ?? ''}${flags ? `  [${flags}]` : ''}`;
}

/**
 * `lotbridge partners list|show|add|set-control`: EDI trading partners, straight on the database
 * (like `keys`); the same operations as /api/v1/partners, audited with actor `cli`.
 */
export function registerPartnerCommands(program: Command, withDb: <T>(fn: (db: Db) => Promise<T>) => Promise<T>): void {
  const partners = program.command('partners').description('EDI trading partners (X12 / EDIFACT): list, show, add, set outbound control numbers');
  partners
    .command('list')
    .description('list partners with their next outbound control number')
    .addOption(new Option('--standard <standard>').choices(['x12', 'edifact']))
    .action(async (opts: { standard?: string }) => {
      await withDb(async (db) => {
        for (const p of await listPartners(db, opts.standard ? { standard: opts.standard } : {})) console.log(line(p));
      });
    });
  partners.command('show').description('one partner as JSON').argument('<id>').action(async (id: string) => {
    await withDb(async (db) => console.log(JSON.stringify(await getPartner(db, id), null, 2)));
  });
  partners
    .command('add')
    .description('add a partner (or complete a provisional one)')
    .addOption(new Option('--standard <standard>').choices(['x12', 'edifact']).makeOptionMandatory())
    .requiredOption('--id <interchangeId>', 'ISA06 / UNB 0004 of the partner')
    .option('--qualifier <q>', 'ISA05 / UNB 0007 qualifier (default: any)')
    .option('--name <name>')
    .option('--gln <gln>', 'GLN of the partner party')
    .addOption(new Option('--ack <type>', 'acknowledgement type').choices(['997', '999', 'CONTRL']))
    .option('--receiving-location <code>', 'location code where their ASNs are expected')
    .action(async (o: { standard: 'x12' | 'edifact'; id: string; qualifier?: string; name?: string; gln?: string; ack?: '997' | '999' | 'CONTRL'; receivingLocation?: string }) => {
      const input: PartnerInput = {
        standard: o.standard, interchangeId: o.id, ...(o.qualifier ? { qualifier: o.qualifier } : {}), ...(o.name ? { name: o.name } : {}), ...(o.gln ? { partyGln: o.gln } : {}),
        ...(o.ack ? { ackType: o.ack } : {}), ...(o.receivingLocation ? { receivingLocation: o.receivingLocation } : {}),
      };
      await withDb(async (db) => {
        const r = await createPartner(db, input, 'cli');
        console.log(line(r.view));
        console.error(r.created ? 'created' : 'completed the provisional record');
      });
    });
  partners
    .command('set-control')
    .description('set the next outbound interchange (and group) control number; never at or below one already used')
    .argument('<id>')
    .argument('<nextInterchange>')
    .option('--group <n>', 'next group control number (GS06)')
    .action(async (id: string, next: string, o: { group?: string }) => {
      await withDb(async (db) => {
        const v = await updatePartner(db, id, { nextInterchangeControl: Number(next), ...(o.group ? { nextGroupControl: Number(o.group) } : {}) }, 'cli');
        console.log(line(v));
      });
    });
}
