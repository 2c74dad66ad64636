import type { ConnectorDefinition } from '../src/connectors/types';
import { passthroughConnector } from '../src/connectors/passthrough.connector';
import { sniffEdifact, sniffX12 } from '../src/ingest/envelope-sniff';
import { wmsConnector } from './wms';
import { hl7Connector } from './hl7';

/**
 * Every connector kind, registered explicitly. x12, edifact and mes-b2mml are stored-and-routed
 * stand-ins until their own connectors (MLLP, acks, mappers) land.
 */
export const connectorDefinitions: ConnectorDefinition[] = [
  wmsConnector as ConnectorDefinition,
  hl7Connector as unknown as ConnectorDefinition,
  passthroughConnector('x12', 'x12', /x12|edi|text\/plain|application\/octet-stream/, sniffX12),
  passthroughConnector('edifact', 'edifact', /edifact|edi|text\/plain|application\/octet-stream/, sniffEdifact),
  passthroughConnector('mes-b2mml', 'b2mml', /xml|text\/plain|application\/octet-stream/, () => ({})),
];
