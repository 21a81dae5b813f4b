export {
  countedFromMs,
  isRolling,
  isTimeZone,
  type PeriodWindow,
  periodWindow,
  QUOTA_PERIODS,
  type QuotaPeriod,
  ROLLING_BUCKETS,
  type RollingPeriod,
  rollingBucketMs,
  startOfLocalDay,
} from "./period";
export { Quota, quotaSubject, TimeZone } from "./quota";
