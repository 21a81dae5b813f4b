export {
  isTimeZone,
  type PeriodWindow,
  periodWindow,
  type QuotaPeriod,
  startOfLocalDay,
} from "./period";
export { Quota, quotaSubject, TimeZone } from "./quota";
