export { createMllpClient, type MllpClient, type MllpClientOptions, type MllpClientTlsOptions } from './mllp-client';
export {
  DEFAULT_MAX_ERROR_BYTES,
  DEFAULT_MAX_FRAME_BYTES,
  MllpFrameDecoder,
  type MllpDecodeEvent,
  type MllpEndReason,
  type MllpFrameDecoderOptions,
  type MllpTruncationReason,
} from './mllp-frame-decoder';
export { MLLP_CR, MLLP_FS, MLLP_VT, assertFramable, encodeMllpFrame } from './mllp-framing';
export { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_IN_FLIGHT, createMllpServer } from './mllp-server';
export type {
  MllpConnectionInfo,
  MllpFrameHandler,
  MllpProtocolErrorHandler,
  MllpServer,
  MllpServerOptions,
  MllpServerStats,
  MllpServerTlsOptions,
  MllpStopOptions,
  MllpStopResult,
} from './mllp-server.types';
