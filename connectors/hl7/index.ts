export { hl7Connector } from './hl7.connector';
export { hl7ConfigSchema, type Hl7ConnectorConfig } from './hl7.config';
