/* dialect.c - the dialect table (dialect.h). Order matters: RPC claims "/" with an
 * Action, S3 takes what carries its own signs (AWS4-HMAC-SHA256, X-Amz-*), OSS takes everything
 * else. */
#include "server/dialect.h"

const vodup_dialect *const vodup_dialects[] = {&vodup_dialect_rpc, &vodup_dialect_s3, &vodup_dialect_oss, NULL};
