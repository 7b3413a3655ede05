#!/bin/bash
# The official zookeeper image's entrypoint contract (zkop local kubelet shim; setpriv stands in for gosu):
# - started as root with zkServer.sh: own the data/log dirs by zookeeper (1000) and re-exec as that user;
# - write $ZOO_CONF_DIR/zoo.cfg from ZOO_* variables if it does not exist;
# - write $ZOO_DATA_DIR/myid from ZOO_MY_ID (default 1) if it does not exist.
set -e

if [[ "$1" = 'zkServer.sh' && "$(id -u)" = '0' ]]; then
    chown -R 1000:1000 "$ZOO_DATA_DIR" "$ZOO_DATA_LOG_DIR" "$ZOO_LOG_DIR"
    exec setpriv --reuid=1000 --regid=1000 --clear-groups "$0" "$@"
fi

if [[ ! -f "$ZOO_CONF_DIR/zoo.cfg" ]]; then
    config="$ZOO_CONF_DIR/zoo.cfg"
    {
        echo "dataDir=$ZOO_DATA_DIR"
        echo "dataLogDir=$ZOO_DATA_LOG_DIR"
        echo "tickTime=$ZOO_TICK_TIME"
        echo "initLimit=$ZOO_INIT_LIMIT"
        echo "syncLimit=$ZOO_SYNC_LIMIT"
        echo "autopurge.snapRetainCount=$ZOO_AUTOPURGE_SNAPRETAINCOUNT"
        echo "autopurge.purgeInterval=$ZOO_AUTOPURGE_PURGEINTERVAL"
        echo "maxClientCnxns=$ZOO_MAX_CLIENT_CNXNS"
        echo "standaloneEnabled=$ZOO_STANDALONE_ENABLED"
        echo "admin.enableServer=$ZOO_ADMINSERVER_ENABLED"
    } >> "$config"
    for server in ${ZOO_SERVERS:-server.1=localhost:2888:3888;2181}; do
        echo "$server" >> "$config"
    done
    if [[ -n "$ZOO_4LW_COMMANDS_WHITELIST" ]]; then
        echo "4lw.commands.whitelist=$ZOO_4LW_COMMANDS_WHITELIST" >> "$config"
    fi
    for extra in $ZOO_CFG_EXTRA; do
        echo "$extra" >> "$config"
    done
fi

if [[ ! -f "$ZOO_DATA_DIR/myid" ]]; then
    echo "${ZOO_MY_ID:-1}" > "$ZOO_DATA_DIR/myid"
fi

exec "$@"
