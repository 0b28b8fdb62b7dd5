/* The one header the sources include for compile-time configuration.
 * A profile (make CONFIG=<name>) is included first and may set any knob;
 * ne_config_default.h then fills in every knob the profile left alone, and
 * ne_config_mqtt.h the MQTT ones. */
#ifndef NE_CONFIG_H
#define NE_CONFIG_H

#ifdef NE_CONFIG_PROFILE_HEADER
#include NE_CONFIG_PROFILE_HEADER
#endif
#include "ne_config_default.h"
#include "ne_config_mqtt.h"

#endif
