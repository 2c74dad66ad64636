import type { ConnectorDefinition } from '../src/connectors/types';
import { passthroughConnector } from '../src/connectors/passthrough.connector';
import { sniffEdifact } from '../src/ingest/envelope-sniff';
import { wmsConnector } from './wms';
import { hl7Connector } from './hl7';
import { mesB2mmlConnector } from './mes-b2mml';
import { x12Connector } from './x12';

/**
 * Every connector kind, registered explicitly. x12 and edifact are stored-and-routed
 * stand-ins until their own connectors (MLLP, acks, mappers) land.
 */
export const connectorDefinitions: ConnectorDefinition[] = [
  wmsConnector as ConnectorDefinition,
  hl7Connector as unknown as ConnectorDefinition,
  x12Connector as unknown as ConnectorDefinition,
  passthroughConnector('edifact', 'edifact', /edifact|edi|text\/plain|application\/octet-stream/, sniffEdifact),
  mesB2mmlConnector as unknown as ConnectorDefinition,
];
