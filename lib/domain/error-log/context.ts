// What the error-log writers need besides the domain context: the retention setting.
import type { BaseConfig } from '../../config.js';
import type { DomainContext } from '../context.js';

/** A domain context whose process config carries ERROR_LOG_RETENTION_DAYS (every process context does). */
export type ErrorLogContext = DomainContext & { cfg: Pick<BaseConfig, 'ERROR_LOG_RETENTION_DAYS'> };
