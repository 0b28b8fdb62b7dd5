/* JetStream's API errors: nats-server's code, err_code and description
 * (its errors.json), one table. A description with a place holder ("{err}",
 * "{seq}", ...) takes the caller's text there. */
#ifndef NE_JS_ERR_H
#define NE_JS_ERR_H

#include <stdint.h>

typedef enum ne_js_err {
    NE_JS_OK = 0,
    NE_JS_ERR_ACCOUNT_RESOURCES_EXCEEDED,               /* 10002 */
    NE_JS_ERR_BAD_REQUEST,                              /* 10003 */
    NE_JS_ERR_CLUSTER_REQUIRED,                         /* 10010 */
    NE_JS_ERR_CONSUMER_CREATE,                          /* 10012 {err} */
    NE_JS_ERR_CONSUMER_NAME_EXIST,                      /* 10013 */
    NE_JS_ERR_CONSUMER_NOT_FOUND,                       /* 10014 */
    NE_JS_ERR_CONSUMER_DURABLE_NOT_IN_SUBJ,             /* 10016 */
    NE_JS_ERR_CONSUMER_DURABLE_MISMATCH,                /* 10017 */
    NE_JS_ERR_CONSUMER_DURABLE_NOT_SET,                 /* 10018 */
    NE_JS_ERR_CONSUMER_EPHEMERAL_WITH_DURABLE_IN_SUBJ,  /* 10019 */
    NE_JS_ERR_CONSUMER_EPHEMERAL_WITH_DURABLE,          /* 10020 */
    NE_JS_ERR_INSUFFICIENT_RESOURCES,                   /* 10023 */
    NE_JS_ERR_INVALID_JSON,                             /* 10025 */
    NE_JS_ERR_MAX_CONSUMERS,                            /* 10026 */
    NE_JS_ERR_MAX_STREAMS,                              /* 10027 */
    NE_JS_ERR_MEMORY_RESOURCES_EXCEEDED,                /* 10028 */
    NE_JS_ERR_MIRROR_WITH_SUBJECTS,                     /* 10034 */
    NE_JS_ERR_NO_MESSAGE_FOUND,                         /* 10037 */
    NE_JS_ERR_NOT_EMPTY_REQUEST,                        /* 10038 */
    NE_JS_ERR_NOT_ENABLED_FOR_ACCOUNT,                  /* 10039 */
    NE_JS_ERR_SEQUENCE_NOT_FOUND,                       /* 10043 {seq} */
    NE_JS_ERR_STORAGE_RESOURCES_EXCEEDED,               /* 10047 */
    NE_JS_ERR_STREAM_CREATE,                            /* 10049 {err} */
    NE_JS_ERR_STREAM_GENERAL,                           /* 10051 {err} */
    NE_JS_ERR_STREAM_INVALID_CONFIG,                    /* 10052 {err} */
    NE_JS_ERR_STREAM_LIMITS,                            /* 10053 {err} */
    NE_JS_ERR_STREAM_MESSAGE_EXCEEDS_MAX,               /* 10054 */
    NE_JS_ERR_STREAM_MISMATCH,                          /* 10056 */
    NE_JS_ERR_STREAM_MSG_DELETE_FAILED,                 /* 10057 {err} */
    NE_JS_ERR_STREAM_NAME_EXIST,                        /* 10058 */
    NE_JS_ERR_STREAM_NOT_FOUND,                         /* 10059 */
    NE_JS_ERR_STREAM_NOT_MATCH,                         /* 10060 */
    NE_JS_ERR_STREAM_REPLICAS_NOT_UPDATABLE,            /* 10061 */
    NE_JS_ERR_STREAM_SUBJECT_OVERLAP,                   /* 10065 */
    NE_JS_ERR_STREAM_UPDATE,                            /* 10069 {err} */
    NE_JS_ERR_STREAM_WRONG_LAST_MSG_ID,                 /* 10070 {id} */
    NE_JS_ERR_STREAM_WRONG_LAST_SEQUENCE,               /* 10071 {seq} */
    NE_JS_ERR_STREAM_REPLICAS_NOT_SUPPORTED,            /* 10074 */
    NE_JS_ERR_NOT_ENABLED,                              /* 10076 */
    NE_JS_ERR_STREAM_STORE_FAILED,                      /* 10077 {err} */
    NE_JS_ERR_CONSUMER_CONFIG_REQUIRED,                 /* 10078 */
    NE_JS_ERR_CONSUMER_DELIVER_TO_WILDCARDS,            /* 10079 */
    NE_JS_ERR_CONSUMER_PUSH_MAX_WAITING,                /* 10080 */
    NE_JS_ERR_CONSUMER_DELIVER_CYCLE,                   /* 10081 */
    NE_JS_ERR_CONSUMER_MAX_PENDING_ACK_POLICY_REQUIRED, /* 10082 */
    NE_JS_ERR_CONSUMER_SMALL_HEARTBEAT,                 /* 10083 */
    NE_JS_ERR_CONSUMER_PULL_REQUIRES_ACK,               /* 10084 */
    NE_JS_ERR_CONSUMER_PULL_WITH_RATE_LIMIT,            /* 10086 */
    NE_JS_ERR_CONSUMER_MAX_WAITING_NEGATIVE,            /* 10087 */
    NE_JS_ERR_CONSUMER_HB_REQUIRES_PUSH,                /* 10088 */
    NE_JS_ERR_CONSUMER_FC_REQUIRES_PUSH,                /* 10089 */
    NE_JS_ERR_CONSUMER_DIRECT_REQUIRES_PUSH,            /* 10090 */
    NE_JS_ERR_CONSUMER_DIRECT_REQUIRES_EPHEMERAL,       /* 10091 */
    NE_JS_ERR_CONSUMER_FILTER_NOT_SUBSET,               /* 10093 */
    NE_JS_ERR_CONSUMER_INVALID_POLICY,                  /* 10094 {err} */
    NE_JS_ERR_CONSUMER_INVALID_SAMPLING,                /* 10095 {err} */
    NE_JS_ERR_CONSUMER_WQ_REQUIRES_EXPLICIT_ACK,        /* 10098 */
    NE_JS_ERR_CONSUMER_WQ_MULTIPLE_UNFILTERED,          /* 10099 */
    NE_JS_ERR_CONSUMER_WQ_NOT_UNIQUE,                   /* 10100 */
    NE_JS_ERR_CONSUMER_WQ_NOT_DELIVER_ALL,              /* 10101 */
    NE_JS_ERR_CONSUMER_NAME_TOO_LONG,                   /* 10102 {max} */
    NE_JS_ERR_CONSUMER_BAD_DURABLE_NAME,                /* 10103 */
    NE_JS_ERR_CONSUMER_EXISTING_ACTIVE,                 /* 10105 */
    NE_JS_ERR_CONSUMER_REPLACEMENT_DIFFERENT,           /* 10106 */
    NE_JS_ERR_CONSUMER_DESCRIPTION_TOO_LONG,            /* 10107 {max} */
    NE_JS_ERR_STREAM_HEADER_EXCEEDS_MAX,                /* 10097 */
    NE_JS_ERR_CONSUMER_FC_NEEDS_HEARTBEATS,             /* 10108 */
    NE_JS_ERR_STREAM_SEALED,                            /* 10109 */
    NE_JS_ERR_STREAM_PURGE_FAILED,                      /* 10110 {err} */
    NE_JS_ERR_STREAM_ROLLUP_FAILED,                     /* 10111 {err} */
    NE_JS_ERR_CONSUMER_INVALID_DELIVER_SUBJECT,         /* 10112 */
    NE_JS_ERR_STREAM_MAX_BYTES_REQUIRED,                /* 10113 */
    NE_JS_ERR_CONSUMER_MAX_REQUEST_BATCH_NEGATIVE,      /* 10114 */
    NE_JS_ERR_CONSUMER_MAX_REQUEST_EXPIRES_TOO_SMALL,   /* 10115 */
    NE_JS_ERR_CONSUMER_MAX_DELIVER_BACKOFF,             /* 10116 */
    NE_JS_ERR_CONSUMER_MAX_PENDING_ACK_EXCESS,          /* 10121 {limit} */
    NE_JS_ERR_STREAM_MAX_STREAM_BYTES_EXCEEDED,         /* 10122 */
    NE_JS_ERR_CONSUMER_MAX_REQUEST_BATCH_EXCEEDED,      /* 10125 {limit} */
    NE_JS_ERR_CONSUMER_REPLICAS_EXCEEDS_STREAM,         /* 10126 */
    NE_JS_ERR_CONSUMER_NAME_PATH_SEPARATORS,            /* 10127 */
    NE_JS_ERR_STREAM_NAME_PATH_SEPARATORS,              /* 10128 */
    NE_JS_ERR_CONSUMER_CREATE_FILTER_MISMATCH,          /* 10131 */
    NE_JS_ERR_CONSUMER_DURABLE_NAME_MISMATCH,           /* 10132 */
    NE_JS_ERR_REPLICAS_NEGATIVE,                        /* 10133 */
    NE_JS_ERR_MIRROR_WITH_SOURCES,                      /* 10031 */
    NE_JS_ERR_MIRROR_NOT_UPDATABLE,                     /* 10055 */
    NE_JS_ERR_MIRROR_MAX_MESSAGE_SIZE_TOO_BIG,          /* 10030 */
    NE_JS_ERR_SOURCE_MAX_MESSAGE_SIZE_TOO_BIG,          /* 10046 */
    NE_JS_ERR_COUNT
} ne_js_err;

typedef struct ne_js_err_def {
    uint16_t code;     /* HTTP-like */
    uint16_t err_code; /* JetStream's */
    const char *description;
} ne_js_err_def;

const ne_js_err_def *ne_js_err_get(ne_js_err e);

#endif
