export { dockerignore } from './dockerignore';
export { type EnvEntry, envFileValues, parseEnvFile } from './env-file';
export { type EnvReadScanOptions, envReadsIn, PLATFORM_VARIABLES, scanEnvReads } from './env-reads';
export { InterpolationError, interpolate, interpolateDeep, referencedVariables } from './interpolate';
