# Shared settings of the zkServer.sh/zkCli.sh shims (sourced). Debian's own zkEnv.sh hard-codes a classpath that
# misses servlet-api (AdminServer) and netty-codec (TLS); this one has them.
ZOOCFGDIR="${ZOOCFGDIR:-/conf}"
ZK_SHIM_HOME="$(cd "$(dirname "$0")/.." && pwd)"
if [ -n "$JAVA_HOME" ] && [ -x "$JAVA_HOME/bin/java" ]; then
  JAVA="$JAVA_HOME/bin/java"
else
  JAVA=java
fi
ZK_JARS=/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar:/usr/share/java/servlet-api.jar:/usr/share/java/netty-codec.jar
CLASSPATH="$ZOOCFGDIR:$ZK_JARS${CLASSPATH:+:$CLASSPATH}"
if [ -f "$ZOOCFGDIR/log4j.properties" ]; then
  ZK_LOG4J="$ZOOCFGDIR/log4j.properties"
else
  ZK_LOG4J="$ZK_SHIM_HOME/conf/log4j.properties"
fi
ZOO_LOG_DIR="${ZOO_LOG_DIR:-/logs}"
