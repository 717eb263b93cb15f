/* dialect.c - the dialect table (dialect.h). Order matters: RPC claims "/" with an
 * Action, OSS takes everything else. */
#include "server/dialect.h"

const vodup_dialect *const vodup_dialects[] = {&vodup_dialect_rpc, &vodup_dialect_oss, NULL};
