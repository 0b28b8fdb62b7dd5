/* MQTT 3.1.1 and 5.0 packets: decoding and encoding (OASIS MQTT 3.1.1 and
 * 5.0; shared/reference/mqtt-inventory.md, IDs M3-xx and M5-xx).
 *
 * A pure module: it sees bytes and writes bytes, never a connection. The
 * decoders take a packet's first byte and its body (everything after the
 * Remaining Length) and fill a structure whose byte ranges point into that
 * body: nothing is copied, and the ranges are valid while the body is. They
 * check everything the specifications make a malformed packet or a protocol
 * error, and say which with a reason code (NE_MQTT_RC_*), so that the caller
 * can answer as the version requires (a v3 client is closed, a v5 one gets
 * CONNACK or DISCONNECT with that code first).
 *
 * The encoders write a whole packet into (out, cap) and return its length,
 * or 0 when it does not fit cap: nothing is ever cut short.
 *
 * Properties (v5 only) are decoded into ne_mqtt_props: one field per
 * property, a bit in `present` for each one seen, user properties and the
 * whole block kept as byte ranges for iteration and forwarding. */
#ifndef NE_MQTT_CODEC_H
#define NE_MQTT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Protocol levels of CONNECT. */
#define NE_MQTT_V311 4
#define NE_MQTT_V5 5

/* Packet types (the high nibble of the first byte, M3-01). */
typedef enum ne_mqtt_type {
    NE_MQTT_CONNECT = 1,
    NE_MQTT_CONNACK = 2,
    NE_MQTT_PUBLISH = 3,
    NE_MQTT_PUBACK = 4,
    NE_MQTT_PUBREC = 5,
    NE_MQTT_PUBREL = 6,
    NE_MQTT_PUBCOMP = 7,
    NE_MQTT_SUBSCRIBE = 8,
    NE_MQTT_SUBACK = 9,
    NE_MQTT_UNSUBSCRIBE = 10,
    NE_MQTT_UNSUBACK = 11,
    NE_MQTT_PINGREQ = 12,
    NE_MQTT_PINGRESP = 13,
    NE_MQTT_DISCONNECT = 14,
    NE_MQTT_AUTH = 15,
} ne_mqtt_type;

/* PUBLISH flags in the first byte. */
#define NE_MQTT_FLAG_DUP 0x08u
#define NE_MQTT_FLAG_RETAIN 0x01u
#define NE_MQTT_QOS_OF(first) (((first) >> 1) & 3u)

/* Reason codes (v5 §2.4); the v3 CONNACK return codes are 0x00..0x05. */
#define NE_MQTT_RC_SUCCESS 0x00
#define NE_MQTT_RC_GRANTED_QOS1 0x01
#define NE_MQTT_RC_GRANTED_QOS2 0x02
#define NE_MQTT_RC_DISCONNECT_WITH_WILL 0x04
#define NE_MQTT_RC_NO_MATCHING_SUBSCRIBERS 0x10
#define NE_MQTT_RC_NO_SUBSCRIPTION_EXISTED 0x11
#define NE_MQTT_RC_CONTINUE_AUTHENTICATION 0x18
#define NE_MQTT_RC_REAUTHENTICATE 0x19
#define NE_MQTT_RC_UNSPECIFIED 0x80
#define NE_MQTT_RC_MALFORMED 0x81
#define NE_MQTT_RC_PROTOCOL_ERROR 0x82
#define NE_MQTT_RC_IMPLEMENTATION_ERROR 0x83
#define NE_MQTT_RC_UNSUPPORTED_VERSION 0x84
#define NE_MQTT_RC_CLIENT_ID_NOT_VALID 0x85
#define NE_MQTT_RC_BAD_USER_OR_PASSWORD 0x86
#define NE_MQTT_RC_NOT_AUTHORIZED 0x87
#define NE_MQTT_RC_SERVER_UNAVAILABLE 0x88
#define NE_MQTT_RC_SERVER_BUSY 0x89
#define NE_MQTT_RC_BANNED 0x8A
#define NE_MQTT_RC_SERVER_SHUTTING_DOWN 0x8B
#define NE_MQTT_RC_BAD_AUTH_METHOD 0x8C
#define NE_MQTT_RC_KEEP_ALIVE_TIMEOUT 0x8D
#define NE_MQTT_RC_SESSION_TAKEN_OVER 0x8E
#define NE_MQTT_RC_TOPIC_FILTER_INVALID 0x8F
#define NE_MQTT_RC_TOPIC_NAME_INVALID 0x90
#define NE_MQTT_RC_PACKET_ID_IN_USE 0x91
#define NE_MQTT_RC_PACKET_ID_NOT_FOUND 0x92
#define NE_MQTT_RC_RECEIVE_MAXIMUM_EXCEEDED 0x93
#define NE_MQTT_RC_TOPIC_ALIAS_INVALID 0x94
#define NE_MQTT_RC_PACKET_TOO_LARGE 0x95
#define NE_MQTT_RC_QUOTA_EXCEEDED 0x97
#define NE_MQTT_RC_ADMINISTRATIVE_ACTION 0x98
#define NE_MQTT_RC_PAYLOAD_FORMAT_INVALID 0x99
#define NE_MQTT_RC_RETAIN_NOT_SUPPORTED 0x9A
#define NE_MQTT_RC_QOS_NOT_SUPPORTED 0x9B
#define NE_MQTT_RC_SHARED_NOT_SUPPORTED 0x9E
#define NE_MQTT_RC_SUB_IDS_NOT_SUPPORTED 0xA1
#define NE_MQTT_RC_WILDCARDS_NOT_SUPPORTED 0xA2

/* v3 CONNACK return codes (v3 §3.2.2.3, MQ-06). */
#define NE_MQTT_V3_ACCEPTED 0x00
#define NE_MQTT_V3_BAD_VERSION 0x01
#define NE_MQTT_V3_ID_REJECTED 0x02
#define NE_MQTT_V3_SERVER_UNAVAILABLE 0x03
#define NE_MQTT_V3_BAD_USER_OR_PASSWORD 0x04
#define NE_MQTT_V3_NOT_AUTHORIZED 0x05

/* The largest Remaining Length (four bytes, M3-07) and the largest
 * fixed header (one byte and four). */
#define NE_MQTT_MAX_REMAINING 268435455u
#define NE_MQTT_MAX_FIXED_HEADER 5u

/* Property identifiers (v5 §2.2.2.2, M5-10). */
#define NE_MQTT_PROP_PAYLOAD_FORMAT 0x01
#define NE_MQTT_PROP_MESSAGE_EXPIRY 0x02
#define NE_MQTT_PROP_CONTENT_TYPE 0x03
#define NE_MQTT_PROP_RESPONSE_TOPIC 0x08
#define NE_MQTT_PROP_CORRELATION_DATA 0x09
#define NE_MQTT_PROP_SUBSCRIPTION_ID 0x0B
#define NE_MQTT_PROP_SESSION_EXPIRY 0x11
#define NE_MQTT_PROP_ASSIGNED_CLIENT_ID 0x12
#define NE_MQTT_PROP_SERVER_KEEP_ALIVE 0x13
#define NE_MQTT_PROP_AUTH_METHOD 0x15
#define NE_MQTT_PROP_AUTH_DATA 0x16
#define NE_MQTT_PROP_REQUEST_PROBLEM_INFO 0x17
#define NE_MQTT_PROP_WILL_DELAY 0x18
#define NE_MQTT_PROP_REQUEST_RESPONSE_INFO 0x19
#define NE_MQTT_PROP_RESPONSE_INFO 0x1A
#define NE_MQTT_PROP_SERVER_REFERENCE 0x1C
#define NE_MQTT_PROP_REASON_STRING 0x1F
#define NE_MQTT_PROP_RECEIVE_MAXIMUM 0x21
#define NE_MQTT_PROP_TOPIC_ALIAS_MAXIMUM 0x22
#define NE_MQTT_PROP_TOPIC_ALIAS 0x23
#define NE_MQTT_PROP_MAXIMUM_QOS 0x24
#define NE_MQTT_PROP_RETAIN_AVAILABLE 0x25
#define NE_MQTT_PROP_USER_PROPERTY 0x26
#define NE_MQTT_PROP_MAXIMUM_PACKET_SIZE 0x27
#define NE_MQTT_PROP_WILDCARD_AVAILABLE 0x28
#define NE_MQTT_PROP_SUB_IDS_AVAILABLE 0x29
#define NE_MQTT_PROP_SHARED_AVAILABLE 0x2A

/* The bit of a property in ne_mqtt_props.present. */
#define NE_MQTT_HAS(id) (UINT64_C(1) << (id))

/* Where a property block is: each property is allowed in some of these
 * (M5-10); a will's properties have their own (M5-12). */
typedef enum ne_mqtt_ctx {
    NE_MQTT_CTX_CONNECT,
    NE_MQTT_CTX_CONNACK,
    NE_MQTT_CTX_PUBLISH,
    NE_MQTT_CTX_ACK, /* PUBACK, PUBREC, PUBREL, PUBCOMP */
    NE_MQTT_CTX_SUBSCRIBE,
    NE_MQTT_CTX_SUBACK,
    NE_MQTT_CTX_UNSUBSCRIBE,
    NE_MQTT_CTX_UNSUBACK,
    NE_MQTT_CTX_DISCONNECT,
    NE_MQTT_CTX_AUTH,
    NE_MQTT_CTX_WILL,
} ne_mqtt_ctx;

/* A byte range in a packet (or anywhere else): never NUL-terminated. */
typedef struct ne_mqtt_bytes {
    const uint8_t *ptr;
    uint32_t len;
} ne_mqtt_bytes;

/* Subscription identifiers one decoded PUBLISH keeps (a server's PUBLISH
 * may carry one per matching subscription); more are counted only. */
#define NE_MQTT_DECODED_SUB_IDS 8

/* Decoded properties. A field is meaningful only when its bit is in
 * `present`; absent ones keep the specification's defaults where the
 * caller reads them through the helpers below. */
typedef struct ne_mqtt_props {
    uint64_t present;
    ne_mqtt_bytes raw; /* the whole block, without its length */
    uint8_t payload_format;
    uint8_t request_problem_info;
    uint8_t request_response_info;
    uint8_t maximum_qos;
    uint8_t retain_available;
    uint8_t wildcard_available;
    uint8_t sub_ids_available;
    uint8_t shared_available;
    uint16_t server_keep_alive;
    uint16_t receive_maximum;
    uint16_t topic_alias_maximum;
    uint16_t topic_alias;
    uint32_t message_expiry;
    uint32_t session_expiry;
    uint32_t will_delay;
    uint32_t maximum_packet_size;
    uint32_t sub_id_count;
    uint32_t sub_ids[NE_MQTT_DECODED_SUB_IDS];
    uint32_t user_count;
    ne_mqtt_bytes content_type;
    ne_mqtt_bytes response_topic;
    ne_mqtt_bytes correlation_data;
    ne_mqtt_bytes assigned_client_id;
    ne_mqtt_bytes auth_method;
    ne_mqtt_bytes auth_data;
    ne_mqtt_bytes response_info;
    ne_mqtt_bytes server_reference;
    ne_mqtt_bytes reason_string;
} ne_mqtt_props;

/* ---- Fixed header and variable byte integers ------------------------------ */

/* The fixed header at the start of buf[0, len): its first byte, the
 * Remaining Length and the header's own size. NE_OK; NE_ERR_WOULD_BLOCK
 * when more bytes are needed; NE_ERR_PARSE when the Remaining Length has a
 * fifth byte (M3-07). Non-minimal encodings are accepted (M5-01, MB-15). */
int ne_mqtt_fixed_header(const uint8_t *buf, size_t len, uint8_t *first, uint32_t *remaining,
                         uint32_t *header_len);

/* A Variable Byte Integer at p[0, len): NE_OK with its value and size,
 * NE_ERR_PARSE when it runs past len or has more than four bytes. */
int ne_mqtt_vbi_decode(const uint8_t *p, size_t len, uint32_t *value, uint32_t *size);
/* Bytes the encoding of v takes (1..4); v <= NE_MQTT_MAX_REMAINING. */
uint32_t ne_mqtt_vbi_size(uint32_t v);
/* Writes v's minimal encoding; returns its size, or 0 when cap is short. */
uint32_t ne_mqtt_vbi_encode(uint8_t *out, size_t cap, uint32_t v);

/* The flags nibble a packet type must carry (M3-02); PUBLISH has its own. */
bool ne_mqtt_flags_valid(uint8_t first);

/* ---- Strings ---------------------------------------------------------------- */

/* Well-formed UTF-8 as MQTT demands (M3-10, M3-11): no surrogates, no
 * overlong forms, nothing above U+10FFFF, no U+0000. */
bool ne_mqtt_utf8_valid(const uint8_t *p, size_t len);

/* ---- Properties --------------------------------------------------------------- */

/* Decodes a property block (without its length) found in `ctx`. NE_OK, or
 * NE_ERR_PARSE with *reason set: NE_MQTT_RC_MALFORMED for a truncated
 * value, an unknown identifier, an identifier not allowed in ctx or a
 * string that is not UTF-8 (M5-08); NE_MQTT_RC_PROTOCOL_ERROR for a
 * property repeated that may not be (M5-09), a value out of its range
 * (Receive Maximum 0, Maximum Packet Size 0, Subscription Identifier 0, a
 * 0/1 byte with another value) or Authentication Data without its Method
 * (M5-11). `inbound_publish` refuses a Subscription Identifier in a
 * client's PUBLISH ([MQTT-3.3.4-6]). */
int ne_mqtt_props_decode(const uint8_t *p, uint32_t len, ne_mqtt_ctx ctx, bool inbound_publish,
                         ne_mqtt_props *out, uint8_t *reason);

/* Iterates the user properties of a decoded block: *pos starts at 0; true
 * with the next key and value, false at the end. */
bool ne_mqtt_props_next_user(const ne_mqtt_props *props, uint32_t *pos, ne_mqtt_bytes *key,
                             ne_mqtt_bytes *value);

/* Copies the properties of a PUBLISH or a will that belong to the message
 * and are forwarded unchanged (M5-14: Payload Format Indicator, Content
 * Type, Response Topic, Correlation Data, User Property), in their order,
 * from a decoded block into out. Returns the bytes written, or -1 when cap
 * is short (never more than the block's length is needed). */
int32_t ne_mqtt_props_message(const ne_mqtt_props *props, uint8_t *out, size_t cap);

/* What an encoder writes as properties: the fields whose bits are set in
 * `present` (in identifier order, user properties excepted), then
 * `extra`, already encoded properties copied as they are (forwarded
 * message properties, user properties), then one Subscription Identifier
 * per entry of sub_ids. */
typedef struct ne_mqtt_props_out {
    const ne_mqtt_props *fields; /* may be NULL: none */
    ne_mqtt_bytes extra;
    const uint32_t *sub_ids;
    uint32_t sub_id_count;
} ne_mqtt_props_out;

/* Bytes of the encoded properties (without their length); -1 when a
 * string is longer than 65,535 bytes or the total exceeds a four-byte
 * length. */
int64_t ne_mqtt_props_size(const ne_mqtt_props_out *p);

/* ---- Decoding packets ----------------------------------------------------------- */

typedef struct ne_mqtt_connect {
    uint8_t level; /* NE_MQTT_V311 or NE_MQTT_V5 */
    bool clean_start;
    uint16_t keep_alive_s;
    ne_mqtt_props props;
    ne_mqtt_bytes client_id;
    bool will;
    uint8_t will_qos;
    bool will_retain;
    ne_mqtt_props will_props;
    ne_mqtt_bytes will_topic;
    ne_mqtt_bytes will_payload;
    bool has_user;
    bool has_password;
    ne_mqtt_bytes user;
    ne_mqtt_bytes password;
} ne_mqtt_connect;

/* What a refused CONNECT deserves (M3-19, M3-23, MB-04, MB-09). */
typedef enum ne_mqtt_connect_fault {
    NE_MQTT_CONNECT_OK = 0,
    NE_MQTT_CONNECT_CLOSE,       /* close without CONNACK (bad name, malformed v3) */
    NE_MQTT_CONNECT_BAD_VERSION, /* CONNACK 0x01 in 3.1.1's form, then close */
    NE_MQTT_CONNECT_REFUSE,      /* v5: CONNACK with *reason, then close */
} ne_mqtt_connect_fault;

/* Decodes a CONNECT body. The level is known once the protocol name and
 * level are read; a fault after that depends on it: a v3 CONNECT is closed
 * without CONNACK, a v5 one gets CONNACK with *reason (0x81 malformed,
 * 0x82 protocol error). The client id, user name and will topic must be
 * UTF-8; the will topic a topic name. */
ne_mqtt_connect_fault ne_mqtt_decode_connect(const uint8_t *body, uint32_t len,
                                             ne_mqtt_connect *out, uint8_t *reason);

typedef struct ne_mqtt_connack {
    bool session_present;
    uint8_t reason;
    ne_mqtt_props props;
} ne_mqtt_connack;

int ne_mqtt_decode_connack(const uint8_t *body, uint32_t len, uint8_t version, ne_mqtt_connack *out,
                           uint8_t *reason);

typedef struct ne_mqtt_publish {
    uint8_t qos;
    bool dup;
    bool retain;
    uint16_t packet_id; /* 0 at QoS 0 */
    ne_mqtt_bytes topic;
    ne_mqtt_props props;
    uint32_t head_len;      /* bytes of the body before the payload */
    uint32_t payload_len;   /* bytes of the body after head_len */
    const uint8_t *payload; /* body + head_len (valid only when that much was given) */
} ne_mqtt_publish;

/* Decodes a PUBLISH whose body has `total` bytes, of which the first
 * `avail` are given (avail < total when only its head has arrived: the
 * payload is then not looked at). NE_OK; NE_ERR_WOULD_BLOCK when the head
 * (topic, packet id, properties) is not all in `avail` yet; NE_ERR_PARSE
 * with *reason: 0x81 for QoS 3 (M3-03), a truncated head or a topic that
 * is not UTF-8, 0x82 for packet id 0 (M3-16) or a property error as
 * ne_mqtt_props_decode says. The topic may be empty (v5 with a Topic
 * Alias); wildcards and aliases are the caller's to check. `inbound`:
 * the client's PUBLISH (no Subscription Identifier allowed). */
int ne_mqtt_decode_publish(uint8_t first, const uint8_t *body, uint32_t avail, uint32_t total,
                           uint8_t version, bool inbound, ne_mqtt_publish *out, uint8_t *reason);

/* PUBACK, PUBREC, PUBREL and PUBCOMP (M3-06, M5-05). */
typedef struct ne_mqtt_ack {
    uint16_t packet_id;
    uint8_t reason;
    ne_mqtt_props props;
} ne_mqtt_ack;

int ne_mqtt_decode_ack(const uint8_t *body, uint32_t len, uint8_t version, ne_mqtt_ack *out,
                       uint8_t *reason);

/* SUBSCRIBE and UNSUBSCRIBE: the packet id, properties and the position
 * of the first filter; every filter has been checked (UTF-8, options),
 * the list is not empty (M3-27); iterate with ne_mqtt_next_filter. */
typedef struct ne_mqtt_subscribe {
    uint16_t packet_id;
    ne_mqtt_props props;
    const uint8_t *filters; /* the payload */
    uint32_t filters_len;
    uint32_t count;
    bool unsubscribe;
} ne_mqtt_subscribe;

/* Options of one filter (v5 §3.8.3.1; v3: the requested QoS only). */
typedef struct ne_mqtt_sub_options {
    uint8_t qos;
    bool no_local;
    bool retain_as_published;
    uint8_t retain_handling;
} ne_mqtt_sub_options;

/* Malformed (0x81): a filter that is not UTF-8 or empty, reserved option
 * bits; protocol error (0x82): QoS 3, Retain Handling 3, no filter, packet
 * id 0. Filter syntax (wildcards) is the caller's to check. */
int ne_mqtt_decode_subscribe(uint8_t first, const uint8_t *body, uint32_t len, uint8_t version,
                             ne_mqtt_subscribe *out, uint8_t *reason);
/* The next filter from *pos (0 first): true with it and its options. */
bool ne_mqtt_next_filter(const ne_mqtt_subscribe *s, uint32_t *pos, ne_mqtt_bytes *filter,
                         ne_mqtt_sub_options *opts);

/* SUBACK and UNSUBACK (client side): the codes are the payload. */
typedef struct ne_mqtt_suback {
    uint16_t packet_id;
    ne_mqtt_props props;
    ne_mqtt_bytes codes; /* empty for a v3 UNSUBACK */
} ne_mqtt_suback;

int ne_mqtt_decode_suback(uint8_t first, const uint8_t *body, uint32_t len, uint8_t version,
                          ne_mqtt_suback *out, uint8_t *reason);

/* DISCONNECT (v5: reason and properties; v3: nothing, RL 0) and AUTH. */
typedef struct ne_mqtt_disconnect {
    uint8_t reason;
    ne_mqtt_props props;
} ne_mqtt_disconnect;

int ne_mqtt_decode_disconnect(const uint8_t *body, uint32_t len, uint8_t version,
                              ne_mqtt_disconnect *out, uint8_t *reason);
int ne_mqtt_decode_auth(const uint8_t *body, uint32_t len, ne_mqtt_disconnect *out,
                        uint8_t *reason);

/* ---- Encoding packets ------------------------------------------------------------- */

/* Every encoder returns the packet's length, or 0 when it does not fit cap
 * (or a field is longer than its length can say). props may be NULL. The
 * v3 forms leave out everything v5 added. */

size_t ne_mqtt_encode_connack(uint8_t *out, size_t cap, uint8_t version, bool session_present,
                              uint8_t reason, const ne_mqtt_props_out *props);

/* The head of a PUBLISH: fixed header, topic, packet id (QoS > 0) and
 * properties, for a payload of payload_len bytes that the caller appends.
 * first is 0x30 with the DUP, QoS and RETAIN bits. */
size_t ne_mqtt_encode_publish_head(uint8_t *out, size_t cap, uint8_t version, uint8_t first,
                                   ne_mqtt_bytes topic, uint16_t packet_id,
                                   const ne_mqtt_props_out *props, uint32_t payload_len);

/* PUBACK, PUBREC, PUBREL, PUBCOMP: the short form (RL 2) when reason is 0
 * and there are no properties (M5-05). */
size_t ne_mqtt_encode_ack(uint8_t *out, size_t cap, uint8_t version, ne_mqtt_type type,
                          uint16_t packet_id, uint8_t reason, const ne_mqtt_props_out *props);

/* SUBACK with one code per filter; UNSUBACK (v3: no codes). */
size_t ne_mqtt_encode_suback(uint8_t *out, size_t cap, uint8_t version, ne_mqtt_type type,
                             uint16_t packet_id, const ne_mqtt_props_out *props,
                             const uint8_t *codes, uint32_t count);

/* DISCONNECT (v5: reason, then properties when there are any) and AUTH. */
size_t ne_mqtt_encode_disconnect(uint8_t *out, size_t cap, uint8_t version, uint8_t reason,
                                 const ne_mqtt_props_out *props);
size_t ne_mqtt_encode_auth(uint8_t *out, size_t cap, uint8_t reason,
                           const ne_mqtt_props_out *props);

/* PINGREQ, PINGRESP: two bytes. */
size_t ne_mqtt_encode_empty(uint8_t *out, size_t cap, ne_mqtt_type type);

/* The client's packets (tests, benchmarks and fuzzing). */
typedef struct ne_mqtt_connect_out {
    uint8_t level;
    bool clean_start;
    uint16_t keep_alive_s;
    const ne_mqtt_props_out *props;
    ne_mqtt_bytes client_id;
    bool will;
    uint8_t will_qos;
    bool will_retain;
    const ne_mqtt_props_out *will_props;
    ne_mqtt_bytes will_topic;
    ne_mqtt_bytes will_payload;
    bool has_user;
    bool has_password;
    ne_mqtt_bytes user;
    ne_mqtt_bytes password;
} ne_mqtt_connect_out;

size_t ne_mqtt_encode_connect(uint8_t *out, size_t cap, const ne_mqtt_connect_out *c);

/* SUBSCRIBE (options given) or UNSUBSCRIBE (opts NULL) of count filters. */
size_t ne_mqtt_encode_subscribe(uint8_t *out, size_t cap, uint8_t version, uint16_t packet_id,
                                const ne_mqtt_props_out *props, const ne_mqtt_bytes *filters,
                                const ne_mqtt_sub_options *opts, uint32_t count);

/* Writes one property into out (the encoders' building block, and for
 * callers assembling an `extra` block): the identifier and a value of the
 * property's type (an integer for byte/two/four-byte/VBI properties; a
 * string, binary or, for a user property, key and value). Returns its size
 * or 0 when cap is short or the identifier unknown. */
size_t ne_mqtt_prop_put_int(uint8_t *out, size_t cap, uint8_t id, uint32_t value);
size_t ne_mqtt_prop_put_bytes(uint8_t *out, size_t cap, uint8_t id, ne_mqtt_bytes value);
size_t ne_mqtt_prop_put_pair(uint8_t *out, size_t cap, ne_mqtt_bytes key, ne_mqtt_bytes value);

#endif
