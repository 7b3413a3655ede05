#!/bin/sh
# zkCli.sh of the official zookeeper image, emulated on Debian's ZooKeeper 3.8.0 (zkop local kubelet).
. "$(dirname "$0")/zkEnv.sh"
# shellcheck disable=SC2086
exec "$JAVA" "-Dzookeeper.log.dir=$ZOO_LOG_DIR" "-Dzookeeper.root.logger=${ZOO_LOG4J_ROOT_LOGGER:-WARN,CONSOLE}" \
  "-Dlog4j.configuration=file:$ZK_LOG4J" $CLIENT_JVMFLAGS $JVMFLAGS -cp "$CLASSPATH" \
  org.apache.zookeeper.ZooKeeperMain "$@"
