/*
 * net.c — the simulated network (placeholder until the stream model lands).
 */
#include <errno.h>

#include "sim/sim_internal.h"

int sim_net_listen(struct sim_node *node, const char *host, uint16_t port, io_accept_cb cb,
                   void *arg, struct io_listener **out) {
    (void)node, (void)host, (void)port, (void)cb, (void)arg, (void)out;
    return -ENOSYS;
}
void sim_net_listener_close(struct sim_node *node, struct io_listener *listener) {
    (void)node, (void)listener;
}
int sim_net_connect(struct sim_node *node, const char *host, uint16_t port, io_connect_cb cb,
                    void *arg) {
    (void)node, (void)host, (void)port, (void)cb, (void)arg;
    return -ENOSYS;
}
void sim_net_stream_start(struct io_stream *stream, io_read_cb read_cb, io_drain_cb drain_cb,
                          void *arg) {
    (void)stream, (void)read_cb, (void)drain_cb, (void)arg;
}
void sim_net_stream_pause(struct io_stream *stream, bool paused) { (void)stream, (void)paused; }
int sim_net_stream_write(struct io_stream *stream, const void *data, size_t len) {
    (void)stream, (void)data, (void)len;
    return -ENOSYS;
}
void sim_net_stream_close(struct io_stream *stream) { (void)stream; }
void sim_net_node_crash(struct sim_node *node) { (void)node; }
void sim_net_destroy(struct sim_world *world) { (void)world; }
