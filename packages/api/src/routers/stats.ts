import { StatsSummaryInput, statsSummary } from "../services/stats";
import { router, viewerProcedure } from "../trpc";
import { StatsSummaryOutput } from "./outputs";

export const statsRouter = router({
  /** Sessions, bytes, rejections, breakdowns, top lists and a time series for a window. */
  summary: viewerProcedure
    .input(StatsSummaryInput.default({ top: 10 }))
    .output(StatsSummaryOutput)
    .query(({ ctx, input }) => statsSummary(ctx.services.database, input)),
});
