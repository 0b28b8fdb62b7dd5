/* The protocol's error texts, as nats-server sends them in -ERR '<text>'
 * (inventory CP-05..CP-83, LN-23). One place for each, so that every kind
 * and every test say the same bytes. The formats take "%.*s" arguments in
 * the order shown. */
#ifndef NE_PROTO_ERR_H
#define NE_PROTO_ERR_H

#define NE_PROTO_ERR_UNKNOWN_OP "Unknown Protocol Operation"
#define NE_PROTO_ERR_MAX_CONTROL_LINE "maximum control line exceeded"
#define NE_PROTO_ERR_MAX_PAYLOAD "Maximum Payload Violation"
#define NE_PROTO_ERR_MAX_CONNECTIONS "maximum connections exceeded"
#define NE_PROTO_ERR_MAX_SUBSCRIPTIONS "maximum subscriptions exceeded"
#define NE_PROTO_ERR_AUTHORIZATION "Authorization Violation"
#define NE_PROTO_ERR_AUTH_TIMEOUT "Authentication Timeout"
#define NE_PROTO_ERR_STALE "Stale Connection"
#define NE_PROTO_ERR_BAD_PROTOCOL "invalid client protocol"
#define NE_PROTO_ERR_NO_RESPONDERS_HEADERS "no responders requires headers support"
#define NE_PROTO_ERR_INVALID_SUBJECT "Invalid Subject"
#define NE_PROTO_ERR_INVALID_SUBSCRIPTION "Invalid Subscription" /* a route's RS+ */
#define NE_PROTO_ERR_INVALID_PUBLISH_SUBJECT "Invalid Publish Subject"
/* subject */
#define NE_PROTO_ERR_PERM_PUBLISH "Permissions Violation for Publish to \"%.*s\""
/* reply */
#define NE_PROTO_ERR_PERM_PUBLISH_REPLY "Permissions Violation for Publish with Reply of \"%.*s\""
/* subject */
#define NE_PROTO_ERR_PERM_SUBSCRIBE "Permissions Violation for Subscription to \"%.*s\""
/* subject, queue */
#define NE_PROTO_ERR_PERM_SUBSCRIBE_QUEUE                                                          \
    "Permissions Violation for Subscription to \"%.*s\" using queue \"%.*s\""
/* subject, sid: a subscription a configuration reload no longer allows (CP-38) */
#define NE_PROTO_ERR_PERM_SUBSCRIBE_SID                                                            \
    "Permissions Violation for Subscription to \"%.*s\" (sid \"%.*s\")"

#endif
