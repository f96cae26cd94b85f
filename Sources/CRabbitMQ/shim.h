#ifndef ROSTERSYNC_CRABBITMQ_SHIM_H
#define ROSTERSYNC_CRABBITMQ_SHIM_H
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

/* amqp_login is variadic, which Swift cannot call; this covers the PLAIN mechanism we use. */
static inline amqp_rpc_reply_t crabbit_login_plain(amqp_connection_state_t state, const char *vhost,
                                                   int channel_max, int frame_max, int heartbeat,
                                                   const char *user, const char *password) {
    return amqp_login(state, vhost, channel_max, frame_max, heartbeat, AMQP_SASL_METHOD_PLAIN, user, password);
}

/* The same login with a client-properties table, so a connection can carry a name the broker shows. */
static inline amqp_rpc_reply_t crabbit_login_plain_with_properties(amqp_connection_state_t state, const char *vhost,
                                                                   int channel_max, int frame_max, int heartbeat,
                                                                   const amqp_table_t *properties,
                                                                   const char *user, const char *password) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat, properties,
                                      AMQP_SASL_METHOD_PLAIN, user, password);
}
#endif
