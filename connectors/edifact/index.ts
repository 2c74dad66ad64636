export { edifactConnector, splitEdifact, edifactEnvelope } from './edifact.connector';
