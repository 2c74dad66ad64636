import type { ConnectorDefinition } from '../src/connectors/types';
import { passthroughConnector } from '../src/connectors/passthrough.connector';
import { sniffEdifact, sniffHl7, sniffX12 } from '../src/ingest/envelope-sniff';
import { wmsConnector } from './wms';

/**
 * Every connector kind, registered explicitly. hl7, x12, edifact and mes-b2mml are stored-and-routed
 * stand-ins until their own connectors (MLLP, acks, mappers) land.
 */
export const connectorDefinitions: ConnectorDefinition[] = [
  wmsConnector as ConnectorDefinition,
  passthroughConnector('hl7', 'hl7v2', /hl7|text\/plain|application\/octet-stream|x12|edi/, sniffHl7),
  passthroughConnector('x12', 'x12', /x12|edi|text\/plain|application\/octet-stream/, sniffX12),
  passthroughConnector('edifact', 'edifact', /edifact|edi|text\/plain|application\/octet-stream/, sniffEdifact),
  passthroughConnector('mes-b2mml', 'b2mml', /xml|text\/plain|application\/octet-stream/, () => ({})),
];
