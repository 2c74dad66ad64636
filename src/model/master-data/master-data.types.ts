/**
 * Types of the master-data model: database rows (`Db*Row`), upsert inputs (what the API body and the
 * CSV importers give) and stored records (what the API answers; schemas/canonical/*.schema.json).
 */

/** Material kinds (materials_kind_check). */
export const MATERIAL_KINDS = ['raw', 'component', 'finished', 'consumable', 'implant', 'packaging'] as const;
/** What a material is in the supply chain. */
export type MaterialKind = (typeof MATERIAL_KINDS)[number];

/** Identifier schemes (material_identifiers_scheme_check). */
export const IDENTIFIER_SCHEMES = ['gtin', 'udi_di', 'internal', 'supplier', 'customer', 'hibcc'] as const;
/** The kind of code an identifier is. */
export type IdentifierScheme = (typeof IDENTIFIER_SCHEMES)[number];

/** Packaging levels (material_identifiers_level_check), smallest first. */
export const PACKAGING_LEVELS = ['each', 'inner', 'box', 'case', 'pallet'] as const;
/** The pack an identifier names. */
export type PackagingLevel = (typeof PACKAGING_LEVELS)[number];

/** Location kinds (locations_kind_check). */
export const LOCATION_KINDS = ['site', 'warehouse', 'zone', 'bin', 'ward', 'operating_room', 'dock', 'vehicle', 'external'] as const;
/** What a location is. */
export type LocationKind = (typeof LOCATION_KINDS)[number];

/** Party roles (parties_role_check). */
export const PARTY_ROLES = ['manufacturer', 'supplier', 'distributor', 'hospital', 'carrier', 'customer', 'internal'] as const;
/** What a party is to us. */
export type PartyRole = (typeof PARTY_ROLES)[number];

/** A row of `materials`. */
export interface DbMaterialRow {
  id: string;
  code: string;
  description: string | null;
  kind: MaterialKind;
  base_uom: string;
  shelf_life_days: number | null;
  storage_temp_min_c: number | null;
  storage_temp_max_c: number | null;
  lot_controlled: boolean;
  serial_controlled: boolean;
  implantable: boolean;
  risk_class: string | null;
  unit_cost: number | null;
  provisional: boolean;
  source_message_id: string | null;
  ordinal: number | null;
  created_at: Date;
  updated_at: Date;
}

/** A row of `material_identifiers`. */
export interface DbMaterialIdentifierRow {
  id: number;
  material_id: string;
  scheme: IdentifierScheme;
  value: string;
  packaging_level: PackagingLevel;
  quantity_per_level: number;
}

/** A row of `locations`. */
export interface DbLocationRow {
  id: string;
  code: string;
  gln: string | null;
  name: string | null;
  kind: LocationKind;
  parent_id: string | null;
  party_id: string | null;
  temperature_zone: string | null;
  temp_min_c: number | null;
  temp_max_c: number | null;
  provisional: boolean;
  source_message_id: string | null;
  ordinal: number | null;
  created_at: Date;
  updated_at: Date;
}

/** A row of `parties`. */
export interface DbPartyRow {
  id: string;
  gln: string | null;
  code: string | null;
  name: string;
  role: PartyRole;
  provisional: boolean;
  source_message_id: string | null;
  ordinal: number | null;
  created_at: Date;
  updated_at: Date;
}

/** One identifier of a material as given to / returned by the API. */
export interface MaterialIdentifier {
  /** Which kind of code this is. */
  scheme: IdentifierScheme;
  /** The code; GTINs are stored as 14 digits. */
  value: string;
  /** The pack this identifier names (default `each`). */
  packagingLevel: PackagingLevel;
  /** Base units in one pack of this level (default 1). */
  quantityPerLevel: number;
}

/**
 * Upsert body for a material. `code` is the primary internal code and the upsert key. On update an
 * omitted field keeps its stored value and `null` clears it; `identifiers`, when given, is the
 * material's complete identifier set (identifiers not listed are removed).
 */
export interface MaterialInput {
  /** Primary internal material code (upsert key). */
  code: string;
  /** Free-text description. */
  description?: string | null;
  /** Material kind (default `finished`). */
  kind?: MaterialKind;
  /** Base unit of measure all quantities convert to (default `EA`). */
  baseUom?: string;
  /** Shelf life in days. */
  shelfLifeDays?: number | null;
  /** Lowest storage temperature, °C. */
  storageTempMinC?: number | null;
  /** Highest storage temperature, °C. */
  storageTempMaxC?: number | null;
  /** Tracked by lot (default true). */
  lotControlled?: boolean;
  /** Tracked by serial number (default false). */
  serialControlled?: boolean;
  /** An implant (default false). */
  implantable?: boolean;
  /** Regulatory risk class, e.g. `IIb` or `III`. */
  riskClass?: string | null;
  /** Cost of one base unit. */
  unitCost?: number | null;
  /** The material's identifiers: GTINs per packaging level, UDI-DIs, internal/supplier/customer codes. */
  identifiers?: Array<{ scheme: IdentifierScheme; value: string; packagingLevel?: PackagingLevel; quantityPerLevel?: number }>;
}

/** A stored material (schemas/canonical/material.schema.json). */
export interface MaterialRecord {
  id: string;
  code: string;
  description: string | null;
  kind: MaterialKind;
  baseUom: string;
  shelfLifeDays: number | null;
  storageTempMinC: number | null;
  storageTempMaxC: number | null;
  lotControlled: boolean;
  serialControlled: boolean;
  implantable: boolean;
  riskClass: string | null;
  unitCost: number | null;
  /** True for a material created by a feed that knew only its GTIN (code `GTIN-<gtin>`). */
  provisional: boolean;
  identifiers: MaterialIdentifier[];
  createdAt: string;
  updatedAt: string;
}

/** Upsert body for a location; `code` is the upsert key. Omitted fields keep their stored value on update. */
export interface LocationInput {
  /** Location code as the WMS/feeds use it (upsert key). */
  code: string;
  /** GLN of the location, when it has one. */
  gln?: string | null;
  /** Display name. */
  name?: string | null;
  /** Location kind (default `bin`). */
  kind?: LocationKind;
  /** Code of the enclosing location (must exist). */
  parentCode?: string | null;
  /** GLN (or code) of the party that operates the location (must exist). */
  partyGln?: string | null;
  /** Temperature zone name, e.g. `ambient`, `chilled`, `frozen`. */
  temperatureZone?: string | null;
  /** Lowest temperature the location keeps, °C. */
  tempMinC?: number | null;
  /** Highest temperature the location keeps, °C. */
  tempMaxC?: number | null;
}

/** A stored location (schemas/canonical/location.schema.json). */
export interface LocationRecord {
  id: string;
  code: string;
  gln: string | null;
  name: string | null;
  kind: LocationKind;
  parentCode: string | null;
  partyGln: string | null;
  partyCode: string | null;
  temperatureZone: string | null;
  tempMinC: number | null;
  tempMaxC: number | null;
  provisional: boolean;
  createdAt: string;
  updatedAt: string;
}

/** Upsert body for a party: matched by `gln`, else by `code` (at least one is needed). */
export interface PartyInput {
  /** GLN of the party. */
  gln?: string | null;
  /** Customer/supplier id used by feeds that carry no GLN. */
  code?: string | null;
  /** Name (required when the party is created). */
  name?: string;
  /** What the party is to us (required when the party is created). */
  role?: PartyRole;
}

/** A stored party (schemas/canonical/party.schema.json). */
export interface PartyRecord {
  id: string;
  gln: string | null;
  code: string | null;
  name: string;
  role: PartyRole;
  provisional: boolean;
  createdAt: string;
  updatedAt: string;
}

/** What an upsert did: `adopted` = a provisional row (created by a feed) became a real one, keeping its id. */
export type UpsertStatus = 'created' | 'updated' | 'adopted' | 'unchanged';

/** Result of an upsert op: what it did and the stored record afterwards. */
export interface UpsertResult<R> {
  /** What the upsert did. */
  status: UpsertStatus;
  /** The stored record after the upsert. */
  record: R;
}

/** Who makes a change; written to `audit_log.actor`. */
export interface ChangeActor {
  /** Principal name (API key name, user name, `cli:<user>`). */
  actor: string;
}

/** A page of a list endpoint. */
export interface Page<T> {
  /** The rows of this page. */
  items: T[];
  /** Rows matching the filter, over all pages. */
  total: number;
  /** Page size used. */
  limit: number;
  /** Rows skipped. */
  offset: number;
}
