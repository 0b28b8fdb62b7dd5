/* MQTT topic names and filters, and their NATS subjects.
 *
 * Topic names and filters (M3-43..M3-46, M5-36): a name is at least one
 * byte without '+' or '#'; in a filter '+' fills a whole level and '#' is
 * the last level. "$share/<group>/<filter>" is a shared subscription.
 *
 * The mapping is nats-server 2.10's (MQ-13..MQ-18,
 * mqttToNATSSubjectConversion and natsSubjectToMQTTTopic): '/' separates
 * levels as '.' separates tokens; an empty level becomes the token "/"
 * (a leading '/' is "/.", an empty level before another '/' or at the end
 * "./"), a '.' inside a level becomes "//", '+' is '*' and '#' is '>'.
 * White space and DEL cannot be mapped and are refused. The reverse turns
 * a subject made this way back into its topic; a NATS subject with a '/'
 * of its own loses it on the way (nats-server does the same). */
#ifndef NE_MQTT_TOPIC_H
#define NE_MQTT_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A topic name: at least one byte, no wildcard characters. UTF-8 is
 * checked apart (ne_mqtt_utf8_valid). */
bool ne_mqtt_topic_name_valid(const uint8_t *topic, size_t len);

/* A topic filter's wildcard syntax: '#' alone in the last level, '+' alone
 * in its level, at least one byte. */
bool ne_mqtt_filter_valid(const uint8_t *filter, size_t len);

/* A "$share/<group>/<filter>" filter: 1 with the group and the filter; 0
 * when it is an ordinary filter; -1 when it starts with "$share/" but is
 * not a valid shared filter (an empty group or one with '+', '#'; nothing
 * after the group's '/'). The filter part is not checked here. */
int ne_mqtt_shared_split(const uint8_t *filter, size_t len, const uint8_t **group,
                         size_t *group_len, const uint8_t **rest, size_t *rest_len);

/* Writes the NATS subject of an MQTT topic name (filter false) or filter
 * (filter true: '+' and '#' become wildcards) into out. NE_OK with its
 * length; NE_ERR_INVALID for white space or DEL (nats-server refuses
 * them), for a wildcard in a topic name, or an empty input; NE_ERR_TOO_BIG
 * when it does not fit cap. */
int ne_mqtt_topic_to_subject(const uint8_t *topic, size_t len, bool filter, char *out, size_t cap,
                             size_t *out_len);

/* Writes the MQTT topic of a NATS subject into out: NE_OK with its length,
 * NE_ERR_TOO_BIG when it does not fit cap (it is never longer than the
 * subject). */
int ne_mqtt_subject_to_topic(const char *subject, size_t len, uint8_t *out, size_t cap,
                             size_t *out_len);

/* Does an MQTT filter match a topic name? '#' also matches its parent
 * level ("a/#" matches "a"); filters starting with a wildcard do not match
 * topics starting with '$' (M3-46). Both must be valid. */
bool ne_mqtt_topic_matches(const uint8_t *filter, size_t flen, const uint8_t *topic, size_t tlen);

#endif
