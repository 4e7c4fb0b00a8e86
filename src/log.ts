import pino from 'pino';

/** Structured logs go to stderr so command output on stdout stays clean. */
export const log = pino(
  {
    level: process.env.LOG_LEVEL ?? 'info',
    redact: { paths: ['password', '*.password', 'neo4j.password', 'auth'], censor: '[redacted]' },
  },
  pino.destination(2),
);
