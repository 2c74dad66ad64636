/**
 * Units of measure as MES exports write them (UN/ECE Rec 20 codes and common short forms), by
 * dimension and size in the dimension's smallest unit here. A quantity converts to a material's
 * base unit only within one dimension.
 */
const UNITS: Readonly<Record<string, { dim: 'count' | 'mass' | 'volume' | 'length'; size: number; canonical: string }>> = {};

function define(dim: 'count' | 'mass' | 'volume' | 'length', size: number, canonical: string, ...codes: string[]): void {
  for (const c of [canonical, ...codes]) {
    (UNITS as Record<string, { dim: typeof dim; size: number; canonical: string }>)[c] = { dim, size, canonical };
  }
}
define('count', 1, 'EA', 'EACH', 'PCE', 'PC', 'PCS', 'C62', 'H87', 'UNIT', 'UNITS', 'ST', 'STK', 'NAR', 'PIECE', 'PIECES');
define('mass', 1_000_000, 'KG', 'KGM', 'KGS');
define('mass', 1000, 'G', 'GRM', 'GR', 'GRAM');
define('mass', 1, 'MG', 'MGM');
define('volume', 1_000_000, 'M3', 'MTQ');
define('volume', 1000, 'L', 'LTR', 'LT', 'LITER', 'LITRE');
define('volume', 1, 'ML', 'MLT');
define('length', 1000, 'M', 'MTR');
define('length', 10, 'CM', 'CMT');
define('length', 1, 'MM', 'MMT');

/** The canonical code of a unit (`KGM` → `KG`, `PCE` → `EA`), or the trimmed upper-case text when unknown. */
export function canonicalUom(uom: string): string {
  const u = uom.trim().toUpperCase();
  return UNITS[u]?.canonical ?? u;
}

/**
 * Factor from `from` to `to` (quantity in `to` = quantity in `from` × factor), or undefined when
 * the units are of different dimensions or unknown and not the same code.
 * @param from - the unit the message uses
 * @param to - the material's base unit
 */
export function uomFactor(from: string, to: string): number | undefined {
  const a = from.trim().toUpperCase();
  const b = to.trim().toUpperCase();
  if (a === b) {
    return 1;
  }
  const ua = UNITS[a];
  const ub = UNITS[b];
  if (!ua || !ub || ua.dim !== ub.dim) {
    return undefined;
  }
  return ua.size / ub.size;
}
