import type { ConnectorDefinition } from '../src/connectors/types';
import { wmsConnector } from './wms';
import { hl7Connector } from './hl7';
import { mesB2mmlConnector } from './mes-b2mml';
import { x12Connector } from './x12';
import { edifactConnector } from './edifact';

/** Every connector kind, registered explicitly. */
export const connectorDefinitions: ConnectorDefinition[] = [
  wmsConnector as ConnectorDefinition,
  hl7Connector as unknown as ConnectorDefinition,
  x12Connector as unknown as ConnectorDefinition,
  edifactConnector as unknown as ConnectorDefinition,
  mesB2mmlConnector as unknown as ConnectorDefinition,
];
