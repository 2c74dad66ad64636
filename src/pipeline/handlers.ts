import type { MessageHandler } from './handler';
import { wmsHandler } from '../normalize/wms/wms.handler';

/** Message handlers by connector kind, registered explicitly. A kind with none is `routed`. */
export function messageHandlers(): Map<string, MessageHandler> {
  const list: MessageHandler[] = [wmsHandler];
  return new Map(list.map((h) => [h.kind, h]));
}
