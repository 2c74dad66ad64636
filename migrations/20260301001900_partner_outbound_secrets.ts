import type { Knex } from 'knex';

/**
 * EDI partners' secret headers for their outbound destination (an Authorization header a partner's
 * HTTP gateway asks for): stored encrypted with the PHI key (AES-256-GCM blob of
 * `{"headers":{…}}`), never returned by the API (it shows the header names), sealed again on each
 * delivery row.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('edi_partners', (t) => {
    t.binary('outbound_secrets').comment('encrypted {headers} sent with outbound deliveries to this partner (PHI key)');
    t.specificType('outbound_secret_headers', 'text[]').comment('the names of those headers (lower-case), shown instead of the values');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('edi_partners', (t) => {
    t.dropColumn('outbound_secrets');
    t.dropColumn('outbound_secret_headers');
  });
}
