export { x12Connector, splitX12, x12Envelope } from './x12.connector';
