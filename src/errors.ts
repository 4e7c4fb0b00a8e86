// Every error the tool raises on purpose has a code; tests assert codes, never message text.
export class LineageError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'LineageError';
  }
}

export const ERR = {
  config: (msg: string) => new LineageError('LH_ERR_CONFIG', msg),
  neo4jUnavailable: (uri: string, cause: unknown) =>
    new LineageError(
      'LH_ERR_NEO4J_UNAVAILABLE',
      `cannot reach Neo4j at ${uri}: ${cause instanceof Error ? cause.message : String(cause)}. Start the local server with "npm run neo4j -- start" or set NEO4J_URI.`,
      { cause },
    ),
  neo4jAuth: (uri: string, user: string) =>
    new LineageError(
      'LH_ERR_NEO4J_AUTH',
      `Neo4j at ${uri} refused user "${user}": check NEO4J_USER and NEO4J_PASSWORD (.env).`,
    ),
  input: (msg: string) => new LineageError('LH_ERR_INPUT', msg),
  unknownAnalytic: (id: string) => new LineageError('LH_ERR_UNKNOWN_ANALYTIC', `no analytic named ${id}`),
  badParameter: (analytic: string, name: string, problem: string) =>
    new LineageError('LH_ERR_BAD_PARAMETER', `${analytic}: parameter ${name} ${problem}`),
  analyticFile: (file: string, problem: string) =>
    new LineageError('LH_ERR_ANALYTIC_FILE', `${file}: ${problem}`),
} as const;
