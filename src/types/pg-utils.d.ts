/** The `pg` driver's parameter conversion (not in @types/pg): what it sends for a JS value; arrays become array literals. */
declare module 'pg/lib/utils' {
  export function prepareValue(value: unknown): unknown;
}
