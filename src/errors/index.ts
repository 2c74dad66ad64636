export * from './codes';
export * from './lotbridge-error';
