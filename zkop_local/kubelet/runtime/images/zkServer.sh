#!/bin/sh
# zkServer.sh of the official zookeeper image, emulated on Debian's ZooKeeper 3.8.0 (zkop local kubelet).
# Supported: [--config <dir>] start-foreground [cfg] | print-cmd [cfg] | status [cfg] | version
# Honours ZOOCFGDIR, SERVER_JVMFLAGS, JVMFLAGS, ZK_SERVER_HEAP (MB, default 128 here), JAVA_HOME.
if [ "$1" = "--config" ]; then
  ZOOCFGDIR="$2"
  shift 2
fi
. "$(dirname "$0")/zkEnv.sh"
action="$1"
[ $# -gt 0 ] && shift
ZOOCFG="${1:-$ZOOCFGDIR/zoo.cfg}"
ZOOMAIN=org.apache.zookeeper.server.quorum.QuorumPeerMain
HEAP="${ZK_SERVER_HEAP:-128}"
set -- "-Dzookeeper.log.dir=$ZOO_LOG_DIR" "-Dzookeeper.log.file=zookeeper-server.log" \
  "-Dzookeeper.root.logger=${ZOO_LOG4J_ROOT_LOGGER:-INFO,CONSOLE}" "-Dlog4j.configuration=file:$ZK_LOG4J" \
  -XX:+HeapDumpOnOutOfMemoryError "-XX:OnOutOfMemoryError=kill -9 %p" "-Xmx${HEAP}m"

case "$action" in
  start-foreground)
    echo "ZooKeeper JMX enabled by default" >&2
    echo "Using config: $ZOOCFG" >&2
    # shellcheck disable=SC2086
    exec "$JAVA" "$@" $SERVER_JVMFLAGS $JVMFLAGS -cp "$CLASSPATH" $ZOOMAIN "$ZOOCFG"
    ;;
  print-cmd)
    echo "\"$JAVA\" $* $SERVER_JVMFLAGS $JVMFLAGS -cp \"$CLASSPATH\" $ZOOMAIN \"$ZOOCFG\""
    ;;
  status)
    port=$(sed -n 's/^clientPort=//p' "$ZOOCFG" | tail -n 1)
    if [ -z "$port" ]; then
      dyn=$(sed -n 's/^dynamicConfigFile=//p' "$ZOOCFG" | tail -n 1)
      [ -n "$dyn" ] && [ -f "$dyn" ] && port=$(sed -n 's/^server\.[0-9]*=.*;\(.*:\)\{0,1\}\([0-9]*\)$/\2/p' "$dyn" | head -n 1)
    fi
    port="${port:-2181}"
    echo "Client port found: $port. Client address: localhost. Client SSL: false." >&2
    out=$("$JAVA" "-Dlog4j.configuration=file:$ZK_LOG4J" -Dzookeeper.root.logger=ERROR,CONSOLE -cp "$CLASSPATH" \
      org.apache.zookeeper.client.FourLetterWordMain localhost "$port" srvr 2>/dev/null)
    mode=$(printf '%s\n' "$out" | sed -n 's/^Mode: //p')
    if [ -z "$mode" ]; then
      echo "Error contacting service. It is probably not running." >&2
      exit 1
    fi
    echo "Mode: $mode"
    ;;
  version)
    exec "$JAVA" -cp "$CLASSPATH" org.apache.zookeeper.version.VersionInfoMain
    ;;
  *)
    echo "Usage: $0 [--config <conf-dir>] {start-foreground|print-cmd|status|version} [cfg]" >&2
    echo "(zkop local shim: start/stop/restart of a daemon are not supported in a container)" >&2
    exit 1
    ;;
esac
