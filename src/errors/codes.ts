import type { ErrorKind } from './lotbridge-error';

/** One entry per error code: who acts (kind), the HTTP status an API answer uses, and a one-line meaning. */
export interface ErrorCatalogEntry {
  kind: ErrorKind;
  http: number;
  meaning: string;
}

/**
 * The error-code catalog. Codes are `LB_ERR_<AREA>_<WHAT>` and never reused.
 * docs/errors.md has a row per code (meaning and fix); tests/unit/errors/catalog.test.ts keeps both in step.
 */
export const errorCatalog = {
  // configuration and start-up
  LB_ERR_CONFIG_INVALID: { kind: 'defect', http: 500, meaning: 'The configuration (environment or lotbridge.config.json) is invalid.' },
  LB_ERR_CONNECTOR_DUPLICATE_KIND: { kind: 'defect', http: 500, meaning: 'Two connector definitions register the same kind.' },
  LB_ERR_CONNECTOR_DUPLICATE_ID: { kind: 'defect', http: 500, meaning: 'Two connector instances share one id.' },
  LB_ERR_CONNECTOR_UNKNOWN_KIND: { kind: 'defect', http: 500, meaning: 'A connector instance names a kind that is not registered.' },
  LB_ERR_CONNECTOR_NOT_FOUND: { kind: 'input', http: 404, meaning: 'No connector instance has this id.' },
  LB_ERR_CONNECTOR_CONFIG_INVALID: { kind: 'defect', http: 500, meaning: 'A connector instance config does not match its schema.' },
  LB_ERR_EMBEDDED_PG_INSTALL: { kind: 'defect', http: 500, meaning: 'The embedded PostgreSQL binaries are missing or incomplete (e.g. installed with --ignore-scripts).' },
  LB_ERR_EMBEDDED_PG_PERMISSION: { kind: 'defect', http: 500, meaning: 'The OS user that runs the embedded PostgreSQL cannot reach its binaries or its data directory.' },
  LB_ERR_EMBEDDED_PG_START: { kind: 'defect', http: 500, meaning: 'The embedded PostgreSQL could not be initialised, started or stopped (the message quotes its log).' },
  // HTTP API
  LB_ERR_AUTH_MISSING: { kind: 'input', http: 401, meaning: 'The request has no Authorization: Bearer key.' },
  LB_ERR_AUTH_INVALID: { kind: 'input', http: 401, meaning: 'The API key is unknown or revoked.' },
  LB_ERR_AUTH_FORBIDDEN: { kind: 'input', http: 403, meaning: "The key's role may not do this." },
  LB_ERR_API_NOT_FOUND: { kind: 'input', http: 404, meaning: 'No such route or resource.' },
  LB_ERR_API_BAD_REQUEST: { kind: 'input', http: 400, meaning: 'The request (query, path or body) does not match the API schema.' },
  LB_ERR_API_CONFLICT: { kind: 'input', http: 409, meaning: 'The resource already exists or the change conflicts with its state.' },
  LB_ERR_MESSAGE_NOT_FOUND: { kind: 'input', http: 404, meaning: 'No stored message has this id.' },
  LB_ERR_LOT_NOT_FOUND: { kind: 'input', http: 404, meaning: 'No lot matches the query.' },
  LB_ERR_SERIAL_NOT_FOUND: { kind: 'input', http: 404, meaning: 'No serial matches the query.' },
  LB_ERR_RECALL_NOT_FOUND: { kind: 'input', http: 404, meaning: 'No recall has this id or number.' },
  LB_ERR_TRACE_CURSOR_INVALID: { kind: 'input', http: 400, meaning: 'The trace cursor was not issued by this API, or belongs to another trace.' },
  LB_ERR_SERVICE_UNAVAILABLE: { kind: 'transient', http: 503, meaning: 'PostgreSQL (or the queue) is unreachable; nothing was stored.' },
  LB_ERR_INTERNAL: { kind: 'defect', http: 500, meaning: 'An unexpected error (a bug); the log has the details.' },
  // intake
  LB_ERR_INGEST_EMPTY: { kind: 'input', http: 422, meaning: 'The message body is empty.' },
  LB_ERR_INGEST_TOO_LARGE: { kind: 'input', http: 413, meaning: 'The message body is larger than the connector allows; only its metadata was stored.' },
  LB_ERR_INGEST_UNSUPPORTED_MEDIA: { kind: 'input', http: 415, meaning: 'The Content-Type is not one the connector accepts.' },
  LB_ERR_INGEST_ENCODING: { kind: 'input', http: 422, meaning: 'The bytes are not valid in the declared or expected character set.' },
  // pipeline
  LB_ERR_PIPELINE_NO_HANDLER: { kind: 'defect', http: 500, meaning: 'No pipeline handler is registered for the message format/connector kind.' },
  LB_ERR_PIPELINE_SCHEMA_VIOLATION: { kind: 'defect', http: 500, meaning: "A mapper's output failed the canonical JSON Schema (a mapping bug)." },
  LB_ERR_PIPELINE_ATTEMPTS_EXHAUSTED: { kind: 'transient', http: 503, meaning: 'A transient error persisted through every retry.' },
  LB_ERR_PIPELINE_NOT_REPROCESSABLE: { kind: 'input', http: 409, meaning: 'The message cannot be reprocessed (oversize: no payload stored, or a duplicate).' },
  // GS1 barcodes
  LB_ERR_GS1_EMPTY: { kind: 'input', http: 422, meaning: 'The barcode data is empty.' },
  LB_ERR_GS1_UNKNOWN_AI: { kind: 'input', http: 422, meaning: 'The data names a GS1 Application Identifier that does not exist.' },
  LB_ERR_GS1_LENGTH: { kind: 'input', http: 422, meaning: 'An AI value is shorter or longer than the GS1 syntax allows.' },
  LB_ERR_GS1_CHARSET: { kind: 'input', http: 422, meaning: 'An AI value has a character outside its GS1 character set (CSET 82/39/64 or digits).' },
  LB_ERR_GS1_CHECK_DIGIT: { kind: 'input', http: 422, meaning: 'A GTIN, SSCC, GLN or other keyed value has a wrong check digit.' },
  LB_ERR_GS1_DATE: { kind: 'input', http: 422, meaning: 'A date AI (YYMMDD) is not a valid calendar date.' },
  LB_ERR_GS1_SYNTAX: { kind: 'input', http: 422, meaning: 'The barcode text is not a GS1 element string, scanner output or Digital Link URI.' },
  LB_ERR_GS1_ASSOCIATION: { kind: 'input', http: 422, meaning: 'A GS1 mandatory association or exclusion rule is broken (e.g. (10) without (01)).' },
  LB_ERR_GS1_DUPLICATE_AI: { kind: 'input', http: 422, meaning: 'The same AI appears twice with different values.' },
  LB_ERR_GS1_INVALID_VALUE: { kind: 'input', http: 422, meaning: 'An AI value fails a GS1 linter (component check other than length, charset, date or check digit).' },
  // HIBCC barcodes (UDI)
  LB_ERR_HIBCC_SYNTAX: { kind: 'input', http: 422, meaning: 'The HIBC data does not follow the Supplier Labeling Standard structure (flag, primary, secondary or supplementary data).' },
  LB_ERR_HIBCC_CHARSET: { kind: 'input', http: 422, meaning: 'The HIBC data has a character outside the HIBC (Code 39) set, or outside the set of its field.' },
  LB_ERR_HIBCC_LENGTH: { kind: 'input', http: 422, meaning: 'A HIBC symbol or field is shorter or longer than the standard allows.' },
  LB_ERR_HIBCC_CHECK_CHARACTER: { kind: 'input', http: 422, meaning: 'The HIBC modulo 43 check character does not match the data.' },
  LB_ERR_HIBCC_LINK_CHARACTER: { kind: 'input', http: 422, meaning: "The secondary symbol's link character differs from the primary symbol's check character." },
  LB_ERR_HIBCC_DATE: { kind: 'input', http: 422, meaning: 'A HIBC date (expiry or manufacture) is truncated or not a valid calendar date.' },
  LB_ERR_HIBCC_CONFLICT: { kind: 'input', http: 422, meaning: 'The HIBC data gives one value (expiry, serial, quantity) twice with different contents.' },
  // WMS connector
  LB_ERR_WMS_JSON_SYNTAX: { kind: 'input', http: 422, meaning: 'The JSON or NDJSON body cannot be parsed (line/column given).' },
  LB_ERR_WMS_CSV_SYNTAX: { kind: 'input', http: 422, meaning: 'The CSV body cannot be parsed (line given).' },
  LB_ERR_WMS_CSV_HEADER: { kind: 'input', http: 422, meaning: 'The CSV header lacks a required column.' },
  LB_ERR_WMS_RECORD_INVALID: { kind: 'input', http: 422, meaning: 'A WMS record does not match its schema (field and index given).' },
  LB_ERR_WMS_UNKNOWN_TYPE: { kind: 'input', http: 422, meaning: 'A WMS record has a type that is not a movement, count or temperature reading.' },
  LB_ERR_WMS_QUANTITY: { kind: 'input', http: 422, meaning: 'A quantity is missing, not a number, or negative where it must not be.' },
  LB_ERR_WMS_DATE: { kind: 'input', http: 422, meaning: 'A timestamp or date is not a valid calendar date/time.' },
  LB_ERR_WMS_ITEM_UNIDENTIFIED: { kind: 'input', http: 422, meaning: 'A record identifies no item: neither a GS1 barcode nor gtin + lot.' },
  LB_ERR_WMS_UOM: { kind: 'input', http: 422, meaning: "A unit of measure cannot be converted to the material's base unit." },
  LB_ERR_WMS_ALL_RECORDS_REJECTED: { kind: 'input', http: 422, meaning: 'Every record in the body was rejected.' },
  LB_ERR_WMS_LOCATION_REQUIRED: { kind: 'input', http: 422, meaning: 'A movement needs a location (and toLocation for moves).' },
  // MES connector (ISA-95 B2MML)
  LB_ERR_B2MML_NOT_WELL_FORMED: { kind: 'input', http: 422, meaning: 'The B2MML document is not well-formed XML (line and column given).' },
  LB_ERR_B2MML_DOCTYPE: { kind: 'input', http: 422, meaning: 'The document holds a DOCTYPE or ENTITY declaration; B2MML documents are refused with one before parsing.' },
  LB_ERR_B2MML_TOO_LARGE: { kind: 'input', http: 413, meaning: "The document is larger than the mes-b2mml connector's maxDocumentBytes." },
  LB_ERR_B2MML_TOO_DEEP: { kind: 'input', http: 422, meaning: "Elements are nested deeper than the mes-b2mml connector's maxDepth." },
  LB_ERR_B2MML_UNKNOWN_ROOT: { kind: 'input', http: 422, meaning: 'The root element is not a B2MML document LotBridge maps (or a verb other than Sync/Process/Show/Notify).' },
  LB_ERR_B2MML_NAMESPACE: { kind: 'input', http: 422, meaning: 'The root element is in a namespace that is not a B2MML namespace, or its prefix is unbound.' },
  LB_ERR_B2MML_VERSION: { kind: 'input', http: 422, meaning: 'The B2MML release (releaseID or namespace) is outside V0401 to V0700.' },
  LB_ERR_B2MML_REQUIRED: { kind: 'input', http: 422, meaning: 'A required B2MML element is missing or empty (path given).' },
  LB_ERR_B2MML_LOT_NO_MATERIAL: { kind: 'input', http: 422, meaning: 'A material lot (or material actual) names no material: no MaterialDefinitionID.' },
  LB_ERR_B2MML_QUANTITY: { kind: 'input', http: 422, meaning: 'A B2MML quantity is not a number, or negative.' },
  LB_ERR_B2MML_UOM: { kind: 'input', http: 422, meaning: "A quantity's UnitOfMeasure does not convert to the material's base unit." },
  LB_ERR_B2MML_DATE: { kind: 'input', http: 422, meaning: 'A B2MML date or date-time is not a valid calendar date/time.' },
  LB_ERR_B2MML_EXPIRY_BEFORE_MANUFACTURE: { kind: 'input', http: 422, meaning: 'A material lot expires before it was manufactured.' },
  LB_ERR_B2MML_MATERIAL_USE: { kind: 'input', http: 422, meaning: 'A MaterialActual has a MaterialUse that is neither consumed nor produced.' },
  LB_ERR_B2MML_STATUS: { kind: 'input', http: 422, meaning: 'A lot Status/Disposition (or QA decision) is not a value LotBridge can map.' },
  LB_ERR_B2MML_LOT_COLLISION: { kind: 'input', http: 422, meaning: 'A produced lot id already exists as a lot of another material.' },
  LB_ERR_B2MML_EMPTY: { kind: 'input', http: 422, meaning: 'The B2MML document holds nothing to map (no lot, material definition, segment response or test result).' },
  LB_ERR_B2MML_ALL_RECORDS_REJECTED: { kind: 'input', http: 422, meaning: 'Every material definition and lot of the document was rejected.' },
  // lot status rules
  LB_ERR_LOT_STATUS_TRANSITION: { kind: 'input', http: 422, meaning: 'A lot status change breaks the lot status rules (e.g. a recalled or rejected lot released without an override).' },
  // HL7 v2
  LB_ERR_HL7_MSH_MISSING: { kind: 'input', http: 422, meaning: 'The text has no MSH segment where an HL7 v2 message must start.' },
  LB_ERR_HL7_ENCODING_CHARACTERS: { kind: 'input', http: 422, meaning: 'MSH-1/MSH-2 (or FHS/BHS-1/2) do not declare usable delimiters.' },
  LB_ERR_HL7_REQUIRED_FIELD: { kind: 'input', http: 422, meaning: 'A required field is empty or missing (a short MSH, or a field a reader requires).' },
  LB_ERR_HL7_SEGMENT_INVALID: { kind: 'input', http: 422, meaning: 'A segment has no valid three-character id: cut short, or split by a line break inside a value.' },
  LB_ERR_HL7_FRAMING: { kind: 'input', http: 422, meaning: 'The text opens an MLLP block (0x0B) that never closes (no 0x1C): the message was cut.' },
  LB_ERR_HL7_BATCH: { kind: 'input', http: 422, meaning: 'A batch (FHS/BHS … BTS/FTS) is inconsistent, or text parsed as one message holds several.' },
  LB_ERR_HL7_MESSAGE_TYPE: { kind: 'input', http: 422, meaning: 'MSH-9 is not a message type with a trigger event (type^trigger[^structure]).' },
  LB_ERR_HL7_VERSION: { kind: 'input', http: 422, meaning: 'MSH-12 is not a known HL7 v2 version (2.1 to 2.8.2, 2.9).' },
  LB_ERR_HL7_DATE: { kind: 'input', http: 422, meaning: 'A DTM/DT/TS value is not an HL7 date/time, or not a real calendar date or clock time.' },
  LB_ERR_HL7_NUMBER: { kind: 'input', http: 422, meaning: 'An NM value (a quantity or amount) is not a number.' },
  LB_ERR_HL7_CHARSET: { kind: 'input', http: 422, meaning: 'MSH-18 names a character set LotBridge cannot decode.' },
  LB_ERR_HL7_ITEM_UNIDENTIFIED: { kind: 'input', http: 422, meaning: 'A DFT^P03 FT1 names no item the hub can identify: no UDI or GTIN, and no hospital item number of a known material.' },
  // master data import
  LB_ERR_IMPORT_CSV: { kind: 'input', http: 422, meaning: 'A master-data or stock CSV row is invalid (line and column given).' },
  LB_ERR_IMPORT_FILE: { kind: 'input', http: 422, meaning: 'The import file cannot be opened or read, or its header is missing.' },
  LB_ERR_IMPORT_DUPLICATE_FILE: { kind: 'input', http: 409, meaning: 'This stock file (same sha256) was imported before; importing it again would double the stock.' },
  LB_ERR_MASTER_DATA_INVALID: { kind: 'input', http: 422, meaning: 'A master-data record breaks a rule its schema cannot express (empty key, min above max, a location cycle).' },
  LB_ERR_MASTER_DATA_GTIN_INVALID: { kind: 'input', http: 422, meaning: 'A GTIN is not 8, 12, 13 or 14 digits or its check digit is wrong.' },
  LB_ERR_MASTER_DATA_GLN_INVALID: { kind: 'input', http: 422, meaning: 'A GLN is not 13 digits or its check digit is wrong.' },
  LB_ERR_MASTER_DATA_IDENTIFIER_CONFLICT: { kind: 'input', http: 409, meaning: 'A GTIN, code or GLN already belongs to another (non-provisional, or provisional with stock) record.' },
  LB_ERR_MASTER_DATA_REFERENCE_UNKNOWN: { kind: 'input', http: 422, meaning: 'A parent location, party or material named in the record does not exist.' },
  // PHI protection
  LB_ERR_PHI_KEY_MISMATCH: { kind: 'defect', http: 500, meaning: 'Encrypted PHI was written with a key that is neither LOTBRIDGE_PHI_KEY nor one of LOTBRIDGE_PHI_OLD_KEYS.' },
  LB_ERR_PHI_DECRYPT: { kind: 'defect', http: 500, meaning: 'Encrypted PHI is malformed or fails authentication (altered or truncated).' },
  // MLLP transport
  LB_ERR_MLLP_BYTES_OUTSIDE_FRAME: { kind: 'input', http: 400, meaning: 'Bytes arrived outside an MLLP frame (not after a VT start byte); the run of bytes is reported once, capped.' },
  LB_ERR_MLLP_FRAME_TRUNCATED: { kind: 'input', http: 400, meaning: 'An MLLP frame never got its FS end byte: a new VT started, the peer closed, the connection went idle or the server stopped.' },
  LB_ERR_MLLP_FRAME_TOO_LARGE: { kind: 'input', http: 413, meaning: 'An MLLP frame is larger than the listener allows (hl7 connector config mllp.maxMessageBytes); its bytes were discarded up to its FS (the head is kept) and the connection stays open.' },
  LB_ERR_MLLP_PAYLOAD_INVALID: { kind: 'input', http: 422, meaning: 'A payload to send over MLLP contains a VT (0x0B) or FS (0x1C) byte, which would break the framing.' },
  LB_ERR_MLLP_CONNECT: { kind: 'transient', http: 503, meaning: 'The MLLP client could not connect (refused, unreachable, TLS handshake failed or connect timed out).' },
  LB_ERR_MLLP_TIMEOUT: { kind: 'transient', http: 503, meaning: 'No MLLP answer arrived within timeoutMs; the connection was closed because later answers could no longer be matched.' },
  LB_ERR_MLLP_CONNECTION_CLOSED: { kind: 'transient', http: 503, meaning: 'The MLLP connection closed before the answer to a sent frame arrived; the peer may or may not have received it.' },
  LB_ERR_MLLP_CLIENT_CLOSED: { kind: 'defect', http: 500, meaning: 'send() was called on an MLLP client after close().' },
  LB_ERR_MLLP_LISTEN: { kind: 'defect', http: 500, meaning: 'The MLLP server could not listen on its host and port (in use, not permitted, bad TLS key or certificate).' },
  // audit
  LB_ERR_AUDIT_CHAIN_BROKEN: { kind: 'defect', http: 500, meaning: 'audit verify found a row whose hash or previous hash does not match.' },
  // support console
  LB_ERR_CONSOLE_LOGIN_FAILED: { kind: 'input', http: 401, meaning: 'The console login named an unknown or disabled user, or the password is wrong.' },
  LB_ERR_CONSOLE_LOGIN_THROTTLED: { kind: 'input', http: 429, meaning: 'Too many failed console logins for this user from this address; wait before trying again.' },
  LB_ERR_CONSOLE_SESSION: { kind: 'input', http: 401, meaning: 'The console request has no valid session (not logged in, logged out or expired).' },
  LB_ERR_CONSOLE_CSRF: { kind: 'input', http: 403, meaning: 'A console action came without the CSRF token of its session (or from another site).' },
  LB_ERR_CONSOLE_JOB_NOT_FOUND: { kind: 'input', http: 404, meaning: 'No console job has this id.' },
  LB_ERR_CONSOLE_SEARCH_INVALID: { kind: 'input', http: 400, meaning: 'A message search field is invalid (status, time, id or page cursor).' },
} as const satisfies Record<string, ErrorCatalogEntry>;

export type ErrorCode = keyof typeof errorCatalog;

export const allErrorCodes = Object.keys(errorCatalog) as ErrorCode[];
