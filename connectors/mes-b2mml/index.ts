export { mesB2mmlConnector, mesB2mmlConfigSchema, type MesB2mmlConnectorConfig } from './mes-b2mml.connector';
