#!/bin/sh
# nats/relay.sh with 1 000 000 messages (make check-net)
RELAY_MESSAGES=1000000 RELAY_RATE=${RELAY_RATE:-100000} \
	exec sh "${top_srcdir:-.}/tests/nats/relay.sh"
