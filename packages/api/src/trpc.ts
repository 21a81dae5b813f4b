import { DbError } from "@edgesocks/db";
import { initTRPC } from "@trpc/server";
import { z } from "zod";
import type { Context } from "./context";
import { ApiError } from "./errors";

/**
 * The most calls one HTTP batch or WebSocket message may carry (the server passes it to tRPC's
 * maxBatchSize): every call costs, so a batch must not multiply one request's cost unbounded.
 */
export const MAX_BATCH_CALLS = 10;
/** tRPC's own message for a batch over maxBatchSize, which does not say the bound. */
const BATCH_TOO_BIG = "Batch call exceeds maximum size";

const t = initTRPC.context<Context>().create({
  // Stack traces stay in the logs, never in responses.
  isDev: false,
  errorFormatter({ shape, error }) {
    const invalidInput = error.code === "BAD_REQUEST" && error.cause instanceof z.ZodError;
    const batchTooBig = error.code === "BAD_REQUEST" && error.message === BATCH_TOO_BIG;
    return {
      ...shape,
      message: invalidInput
        ? z.prettifyError(error.cause as z.ZodError)
        : batchTooBig
          ? `a batch holds at most ${MAX_BATCH_CALLS} calls`
          : shape.message,
      data: {
        ...shape.data,
        appCode:
          error instanceof ApiError
            ? error.appCode
            : invalidInput || batchTooBig
              ? "API_E_BAD_INPUT"
              : null,
      },
    };
  },
});

export const router = t.router;
export const mergeRouters = t.mergeRouters;

/** Times every call into the latency histogram and maps an overloaded write queue to 429. */
const observed = t.middleware(async ({ ctx, path, type, next }) => {
  const startedAt = performance.now();
  const result = await next();
  ctx.services.metrics.apiDurationSeconds.observe(
    { procedure: path, type, code: result.ok ? "OK" : result.error.code },
    (performance.now() - startedAt) / 1000,
  );
  if (!result.ok && result.error.cause instanceof DbError) {
    const { code } = result.error.cause;
    if (code === "DB_E_QUEUE_FULL") {
      ctx.services.metrics.writeQueueRefusedTotal.inc();
      throw new ApiError("API_E_OVERLOADED", "the control plane is overloaded; retry later", {
        cause: result.error.cause,
      });
    }
    if (code === "DB_E_QUEUE_CLOSED") {
      throw new ApiError("API_E_UNAVAILABLE", "the control plane is shutting down", {
        cause: result.error.cause,
      });
    }
  }
  return result;
});

/**
 * Subscriptions run over WebSockets only, at most `maxSubscriptionsPerSocket` on one; the slot is
 * freed when the subscription ends, however it ends.
 */
const subscriptionCap = t.middleware(async ({ ctx, type, next }) => {
  const socket = ctx.socket;
  if (type !== "subscription") return next();
  if (socket === null) {
    // Over HTTP (SSE) no socket can be closed on revocation: subscriptions need the WebSocket.
    throw new ApiError(
      "API_E_BAD_INPUT",
      "subscriptions are served over the WebSocket (/trpc) only",
    );
  }
  const max = ctx.services.maxSubscriptionsPerSocket;
  if (socket.subscriptions >= max) {
    throw new ApiError(
      "API_E_TOO_MANY_SUBSCRIPTIONS",
      `this WebSocket already holds ${max} subscriptions (the most one socket may); stop one first`,
    );
  }
  socket.subscriptions += 1;
  let held = true;
  const free = () => {
    if (held) socket.subscriptions -= 1;
    held = false;
  };
  const result = await next().catch((error: unknown) => {
    free();
    throw error;
  });
  if (!result.ok || !isAsyncIterable(result.data)) {
    free();
    return result;
  }
  const inner = result.data;
  async function* counted() {
    try {
      yield* inner;
    } finally {
      free();
    }
  }
  return { ...result, data: counted() };
});

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

export const publicProcedure = t.procedure.use(observed).use(subscriptionCap);

/**
 * The caller's principal, looked up again for this call (the token resolver caches for a
 * second), so a socket never keeps rights its token lost.
 */
async function currentPrincipal(ctx: Context) {
  return ctx.token === null ? null : ctx.services.tokens.resolve(ctx.token);
}

function refuse(ctx: Context, kind: "admin" | "node"): never {
  const { authLimiter, metrics } = ctx.services;
  // No token is not a failed authentication: it neither counts nor gets rate limited.
  if (ctx.token !== null) {
    if (authLimiter.isLimited(ctx.clientAddress)) {
      metrics.rateLimitedTotal.inc();
      throw new ApiError("API_E_RATE_LIMITED", "too many failed authentications; retry later");
    }
    authLimiter.recordFailure(ctx.clientAddress);
    metrics.authFailuresTotal.inc({ kind });
  }
  throw new ApiError(
    "API_E_UNAUTHORIZED",
    kind === "admin"
      ? "an admin API token is required (Authorization: Bearer esa_…)"
      : "a node token is required (connectionParams.token = esn_…)",
  );
}

/** Admin API, read: any admin token (`viewer` or `admin`). */
export const viewerProcedure = publicProcedure.use(async ({ ctx, next }) => {
  const principal = await currentPrincipal(ctx);
  if (principal?.kind !== "admin") refuse(ctx, "admin");
  return next({ ctx: { admin: principal } });
});

/** Admin API, write: role `admin` only. */
export const adminProcedure = viewerProcedure.use(({ ctx, next }) => {
  if (ctx.admin.role !== "admin") {
    throw new ApiError(
      "API_E_FORBIDDEN",
      `${ctx.admin.name} has role ${ctx.admin.role}; this needs role admin`,
    );
  }
  return next();
});

/** Relay procedures: a node token. */
export const nodeProcedure = publicProcedure.use(async ({ ctx, next }) => {
  const principal = await currentPrincipal(ctx);
  if (principal?.kind !== "node") refuse(ctx, "node");
  return next({ ctx: { node: principal } });
});
