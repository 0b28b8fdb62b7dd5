/* JetStream's API errors (ne_js_err.h): nats-server 2.9.10's errors.json. */
#include "js/ne_js_err.h"

#include "core/ne_assert.h"

static const ne_js_err_def table[NE_JS_ERR_COUNT] = {
    [NE_JS_OK] = {200, 0, ""},
    [NE_JS_ERR_ACCOUNT_RESOURCES_EXCEEDED] = {400, 10002, "resource limits exceeded for account"},
    [NE_JS_ERR_BAD_REQUEST] = {400, 10003, "bad request"},
    [NE_JS_ERR_CLUSTER_REQUIRED] = {503, 10010, "JetStream clustering support required"},
    [NE_JS_ERR_CONSUMER_CREATE] = {500, 10012, "{err}"},
    [NE_JS_ERR_CONSUMER_NAME_EXIST] = {400, 10013, "consumer name already in use"},
    [NE_JS_ERR_CONSUMER_NOT_FOUND] = {404, 10014, "consumer not found"},
    [NE_JS_ERR_CONSUMER_DURABLE_NOT_IN_SUBJ] =
        {400, 10016, "consumer expected to be durable but no durable name set in subject"},
    [NE_JS_ERR_CONSUMER_DURABLE_MISMATCH] =
        {400, 10017, "consumer name in subject does not match durable name in request"},
    [NE_JS_ERR_CONSUMER_DURABLE_NOT_SET] =
        {400, 10018, "consumer expected to be durable but a durable name was not set"},
    [NE_JS_ERR_CONSUMER_EPHEMERAL_WITH_DURABLE_IN_SUBJ] =
        {400, 10019,
         "consumer expected to be ephemeral but detected a durable name set in subject"},
    [NE_JS_ERR_CONSUMER_EPHEMERAL_WITH_DURABLE] =
        {400, 10020, "consumer expected to be ephemeral but a durable name was set in request"},
    [NE_JS_ERR_INSUFFICIENT_RESOURCES] = {503, 10023, "insufficient resources"},
    [NE_JS_ERR_INVALID_JSON] = {400, 10025, "invalid JSON"},
    [NE_JS_ERR_MAX_CONSUMERS] = {400, 10026, "maximum consumers limit reached"},
    [NE_JS_ERR_MAX_STREAMS] = {400, 10027, "maximum number of streams reached"},
    [NE_JS_ERR_MEMORY_RESOURCES_EXCEEDED] = {500, 10028, "insufficient memory resources available"},
    [NE_JS_ERR_MIRROR_WITH_SUBJECTS] = {400, 10034, "stream mirrors can not contain subjects"},
    [NE_JS_ERR_MIRROR_WITH_SOURCES] = {400, 10031,
                                       "stream mirrors can not also contain other sources"},
    [NE_JS_ERR_MIRROR_NOT_UPDATABLE] = {400, 10055,
                                        "stream mirror configuration can not be updated"},
    [NE_JS_ERR_MIRROR_MAX_MESSAGE_SIZE_TOO_BIG] =
        {400, 10030, "stream mirror must have max message size >= source"},
    [NE_JS_ERR_SOURCE_MAX_MESSAGE_SIZE_TOO_BIG] =
        {400, 10046, "stream source must have max message size >= target"},
    [NE_JS_ERR_NO_MESSAGE_FOUND] = {404, 10037, "no message found"},
    [NE_JS_ERR_NOT_EMPTY_REQUEST] = {400, 10038, "expected an empty request payload"},
    [NE_JS_ERR_NOT_ENABLED_FOR_ACCOUNT] = {503, 10039, "JetStream not enabled for account"},
    [NE_JS_ERR_SEQUENCE_NOT_FOUND] = {400, 10043, "sequence {seq} not found"},
    [NE_JS_ERR_STORAGE_RESOURCES_EXCEEDED] = {500, 10047,
                                              "insufficient storage resources available"},
    [NE_JS_ERR_STREAM_CREATE] = {500, 10049, "{err}"},
    [NE_JS_ERR_STREAM_GENERAL] = {500, 10051, "{err}"},
    [NE_JS_ERR_STREAM_INVALID_CONFIG] = {500, 10052, "{err}"},
    [NE_JS_ERR_STREAM_LIMITS] = {500, 10053, "{err}"},
    [NE_JS_ERR_STREAM_MESSAGE_EXCEEDS_MAX] = {400, 10054, "message size exceeds maximum allowed"},
    [NE_JS_ERR_STREAM_MISMATCH] = {400, 10056, "stream name in subject does not match request"},
    [NE_JS_ERR_STREAM_MSG_DELETE_FAILED] = {500, 10057, "{err}"},
    [NE_JS_ERR_STREAM_NAME_EXIST] = {400, 10058,
                                     "stream name already in use with a different configuration"},
    [NE_JS_ERR_STREAM_NOT_FOUND] = {404, 10059, "stream not found"},
    [NE_JS_ERR_STREAM_NOT_MATCH] = {400, 10060, "expected stream does not match"},
    [NE_JS_ERR_STREAM_REPLICAS_NOT_UPDATABLE] = {400, 10061,
                                                 "Replicas configuration can not be updated"},
    [NE_JS_ERR_STREAM_SUBJECT_OVERLAP] = {400, 10065, "subjects overlap with an existing stream"},
    [NE_JS_ERR_STREAM_UPDATE] = {500, 10069, "{err}"},
    [NE_JS_ERR_STREAM_WRONG_LAST_MSG_ID] = {400, 10070, "wrong last msg ID: {id}"},
    [NE_JS_ERR_STREAM_WRONG_LAST_SEQUENCE] = {400, 10071, "wrong last sequence: {seq}"},
    [NE_JS_ERR_STREAM_REPLICAS_NOT_SUPPORTED] =
        {500, 10074, "replicas > 1 not supported in non-clustered mode"},
    [NE_JS_ERR_NOT_ENABLED] = {503, 10076, "JetStream not enabled"},
    [NE_JS_ERR_STREAM_STORE_FAILED] = {503, 10077, "{err}"},
    [NE_JS_ERR_CONSUMER_CONFIG_REQUIRED] = {400, 10078, "consumer config required"},
    [NE_JS_ERR_CONSUMER_DELIVER_TO_WILDCARDS] = {400, 10079,
                                                 "consumer deliver subject has wildcards"},
    [NE_JS_ERR_CONSUMER_PUSH_MAX_WAITING] = {400, 10080,
                                             "consumer in push mode can not set max waiting"},
    [NE_JS_ERR_CONSUMER_DELIVER_CYCLE] = {400, 10081, "consumer deliver subject forms a cycle"},
    [NE_JS_ERR_CONSUMER_MAX_PENDING_ACK_POLICY_REQUIRED] =
        {400, 10082, "consumer requires ack policy for max ack pending"},
    [NE_JS_ERR_CONSUMER_SMALL_HEARTBEAT] = {400, 10083,
                                            "consumer idle heartbeat needs to be >= 100ms"},
    [NE_JS_ERR_CONSUMER_PULL_REQUIRES_ACK] = {400, 10084,
                                              "consumer in pull mode requires ack policy"},
    [NE_JS_ERR_CONSUMER_PULL_WITH_RATE_LIMIT] =
        {400, 10086, "consumer in pull mode can not have rate limit set"},
    [NE_JS_ERR_CONSUMER_MAX_WAITING_NEGATIVE] = {400, 10087,
                                                 "consumer max waiting needs to be positive"},
    [NE_JS_ERR_CONSUMER_HB_REQUIRES_PUSH] =
        {400, 10088, "consumer idle heartbeat requires a push based consumer"},
    [NE_JS_ERR_CONSUMER_FC_REQUIRES_PUSH] =
        {400, 10089, "consumer flow control requires a push based consumer"},
    [NE_JS_ERR_CONSUMER_DIRECT_REQUIRES_PUSH] = {400, 10090,
                                                 "consumer direct requires a push based consumer"},
    [NE_JS_ERR_CONSUMER_DIRECT_REQUIRES_EPHEMERAL] =
        {400, 10091, "consumer direct requires an ephemeral consumer"},
    [NE_JS_ERR_CONSUMER_FILTER_NOT_SUBSET] =
        {400, 10093, "consumer filter subject is not a valid subset of the interest subjects"},
    [NE_JS_ERR_CONSUMER_INVALID_POLICY] = {400, 10094, "{err}"},
    [NE_JS_ERR_CONSUMER_INVALID_SAMPLING] =
        {400, 10095, "failed to parse consumer sampling configuration: {err}"},
    [NE_JS_ERR_CONSUMER_WQ_REQUIRES_EXPLICIT_ACK] = {400, 10098,
                                                     "workqueue stream requires explicit ack"},
    [NE_JS_ERR_CONSUMER_WQ_MULTIPLE_UNFILTERED] =
        {400, 10099, "multiple non-filtered consumers not allowed on workqueue stream"},
    [NE_JS_ERR_CONSUMER_WQ_NOT_UNIQUE] = {400, 10100,
                                          "filtered consumer not unique on workqueue stream"},
    [NE_JS_ERR_CONSUMER_WQ_NOT_DELIVER_ALL] = {400, 10101,
                                               "consumer must be deliver all on workqueue stream"},
    [NE_JS_ERR_CONSUMER_NAME_TOO_LONG] = {400, 10102,
                                          "consumer name is too long, maximum allowed is {max}"},
    [NE_JS_ERR_CONSUMER_BAD_DURABLE_NAME] = {400, 10103,
                                             "durable name can not contain '.', '*', '>'"},
    [NE_JS_ERR_CONSUMER_EXISTING_ACTIVE] = {400, 10105,
                                            "consumer already exists and is still active"},
    [NE_JS_ERR_CONSUMER_REPLACEMENT_DIFFERENT] =
        {400, 10106, "consumer replacement durable config not the same"},
    [NE_JS_ERR_CONSUMER_DESCRIPTION_TOO_LONG] =
        {400, 10107, "consumer description is too long, maximum allowed is {max}"},
    [NE_JS_ERR_STREAM_HEADER_EXCEEDS_MAX] = {400, 10097,
                                             "header size exceeds maximum allowed of 64k"},
    [NE_JS_ERR_CONSUMER_FC_NEEDS_HEARTBEATS] = {400, 10108,
                                                "consumer with flow control also needs heartbeats"},
    [NE_JS_ERR_STREAM_SEALED] = {400, 10109, "invalid operation on sealed stream"},
    [NE_JS_ERR_STREAM_PURGE_FAILED] = {500, 10110, "{err}"},
    [NE_JS_ERR_STREAM_ROLLUP_FAILED] = {500, 10111, "{err}"},
    [NE_JS_ERR_CONSUMER_INVALID_DELIVER_SUBJECT] = {400, 10112,
                                                    "invalid push consumer deliver subject"},
    [NE_JS_ERR_STREAM_MAX_BYTES_REQUIRED] =
        {400, 10113, "account requires a stream config to have max bytes set"},
    [NE_JS_ERR_CONSUMER_MAX_REQUEST_BATCH_NEGATIVE] =
        {400, 10114, "consumer max request batch needs to be > 0"},
    [NE_JS_ERR_CONSUMER_MAX_REQUEST_EXPIRES_TOO_SMALL] =
        {400, 10115, "consumer max request expires needs to be >= 1ms"},
    [NE_JS_ERR_CONSUMER_MAX_DELIVER_BACKOFF] =
        {400, 10116, "max deliver is required to be > length of backoff values"},
    [NE_JS_ERR_CONSUMER_MAX_PENDING_ACK_EXCESS] =
        {400, 10121, "consumer max ack pending exceeds system limit of {limit}"},
    [NE_JS_ERR_STREAM_MAX_STREAM_BYTES_EXCEEDED] =
        {400, 10122, "stream max bytes exceeds account limit max stream bytes"},
    [NE_JS_ERR_CONSUMER_MAX_REQUEST_BATCH_EXCEEDED] =
        {400, 10125, "consumer max request batch exceeds server limit of {limit}"},
    [NE_JS_ERR_CONSUMER_REPLICAS_EXCEEDS_STREAM] =
        {400, 10126, "consumer config replica count exceeds parent stream"},
    [NE_JS_ERR_CONSUMER_NAME_PATH_SEPARATORS] = {400, 10127,
                                                 "Consumer name can not contain path separators"},
    [NE_JS_ERR_STREAM_NAME_PATH_SEPARATORS] = {400, 10128,
                                               "Stream name can not contain path separators"},
    [NE_JS_ERR_CONSUMER_CREATE_FILTER_MISMATCH] =
        {400, 10131, "Consumer create request did not match filtered subject from create subject"},
    [NE_JS_ERR_CONSUMER_DURABLE_NAME_MISMATCH] =
        {400, 10132, "Consumer Durable and Name have to be equal if both are provided"},
    [NE_JS_ERR_REPLICAS_NEGATIVE] = {400, 10133, "replicas count cannot be negative"},
};

const ne_js_err_def *ne_js_err_get(ne_js_err e)
{
    NE_ASSERT(e > NE_JS_OK && e < NE_JS_ERR_COUNT && table[e].err_code != 0);
    return &table[e];
}
