export { wmsConnector, wmsConfigSchema, type WmsConnectorConfig } from './wms.connector';
