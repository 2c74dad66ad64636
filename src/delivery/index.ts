export { enqueueDelivery, recordSkippedDelivery, deliveryView, type DeliveryRequest, type DeliveryView, type EnqueueDeliveryDeps } from './enqueue-delivery';
export { DeliveryService, type DeliveryOutcome } from './delivery-service';
export type { Destination, HttpDestination, MllpDestination, FileDestination, DeliveryPolicy, DeliverySecrets } from './destination';
