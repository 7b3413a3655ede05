#!/bin/bash
# Starts one ZooKeeper member inside the stock `zookeeper` image. Rendered by zkop into the cluster's
# ConfigMap; edits are overwritten.
#
# Why a script: ZooKeeper rewrites zoo.cfg and writes zoo.cfg.dynamic.<version> at every reconfiguration,
# so its config must live on the member's own volume, not on the read-only ConfigMap mount, and a member
# must never start from membership older than what it last saw (the "My id N not in the peer list"
# failure of other operators).
set -euo pipefail

templates="${ZKOP_TEMPLATES:-/etc/zkop}"
data_root="${ZKOP_DATA:-/data}"
conf_dir="$data_root/conf"
data_dir="$data_root/data"
: "${POD_NAME:?POD_NAME must come from metadata.name}"
: "${ZKOP_PEER_DOMAIN:?ZKOP_PEER_DOMAIN must name the headless service domain}"

ordinal="${POD_NAME##*-}"
case "$ordinal" in
  '' | *[!0-9]*) echo "zkop: cannot derive a member id from pod name '$POD_NAME'" >&2; exit 64 ;;
esac
myid=$((ordinal + 1))
mkdir -p "$conf_dir" "$data_dir"
echo "$myid" > "$data_dir/myid"

is_hex() { case "$1" in '' | *[!0-9a-fA-F]*) return 1 ;; *) return 0 ;; esac; }

# Membership: the newest of (a) what zkop last rendered and (b) what ZooKeeper itself last wrote on this
# volume. (b) counts only while the volume still holds the data it belongs to: a wiped data directory
# rejoins from zkop's view and syncs from the leader.
chosen="$templates/zoo.cfg.dynamic"
chosen_version="$(cat "$templates/zoo.cfg.dynamic.version" 2>/dev/null || echo 0)"
is_hex "$chosen_version" || chosen_version=0
if compgen -G "$data_dir/version-2/snapshot.*" > /dev/null || compgen -G "$data_dir/version-2/log.*" > /dev/null; then
  for candidate in "$conf_dir"/zoo.cfg.dynamic.*; do
    [ -f "$candidate" ] || continue
    version="${candidate##*.}"
    is_hex "$version" || continue # skips zoo.cfg.dynamic.next and temporary files
    if (( 16#$version >= 16#$chosen_version )); then
      chosen="$candidate"
      chosen_version="$version"
    fi
  done
fi

own_host="${POD_NAME}.${ZKOP_PEER_DOMAIN}"
own_line="server.${myid}=${own_host}:2888:3888:observer"
# Without TLS a member advertises its plain-text client address in its line; with TLS the client
# listeners are static settings and nothing plain-text is advertised (see zkop/render/tls.py).
grep -q '^secureClientPort=' "$templates/zoo.cfg" || own_line="${own_line};${own_host}:2181"
dynamic="$conf_dir/zoo.cfg.dynamic.$chosen_version"
if ! grep -qE "^server\.${myid}=" "$chosen"; then
  # Our own view (members + ourselves) is written as version 0, older than anything the ensemble
  # committed: on contact the member adopts the leader's configuration and joins it as a non-voting
  # follower. With the same version it would keep its own view and connect as an observer, which a
  # reconfig cannot vote in.
  dynamic="$conf_dir/zoo.cfg.dynamic.0"
fi
{
  grep -E '^server\.[0-9]+=' "$chosen" || true
  # A member that is not (or no longer) in the membership joins as a non-voting follower, syncs, and is
  # then voted in by zkop with a reconfig. Without its own line ZooKeeper refuses to start; with itself as
  # a participant it would need a majority of (members + itself) to follow anyone, which a single-member
  # ensemble cannot give: listed as an observer it follows whoever leads the current members.
  grep -qE "^server\.${myid}=" "$chosen" || echo "$own_line"
} > "$dynamic.tmp"
mv "$dynamic.tmp" "$dynamic"
for old in "$conf_dir"/zoo.cfg.dynamic.*; do
  [ "$old" = "$dynamic" ] || [ "${old##*.}" = "next" ] || rm -f "$old"
done

# TLS: the member's Secret holds tls.key, tls.crt and ca.crt; ZooKeeper's PEM key store wants key and
# certificate in one file, joined here into a private, memory-backed directory (never onto the volume).
tls_settings=""
if [ -n "${ZKOP_TLS_DIR:-}" ]; then
  store_dir="${ZKOP_RUNTIME:-/tmp}/zkop-tls"
  mkdir -p "$store_dir"
  chmod 700 "$store_dir"
  (umask 077 && cat "$ZKOP_TLS_DIR/tls.key" "$ZKOP_TLS_DIR/tls.crt" > "$store_dir/keystore.pem.tmp")
  mv "$store_dir/keystore.pem.tmp" "$store_dir/keystore.pem"
  cat "$ZKOP_TLS_DIR/ca.crt" > "$store_dir/truststore.pem.tmp"
  mv "$store_dir/truststore.pem.tmp" "$store_dir/truststore.pem"
  for prefix in ssl ssl.quorum; do
    tls_settings+="${prefix}.keyStore.location=$store_dir/keystore.pem"$'\n'
    tls_settings+="${prefix}.trustStore.location=$store_dir/truststore.pem"$'\n'
  done
fi
# SASL DIGEST-MD5: the mounted Secret holds one key per user with its password; ZKOP_SASL_USERS (in the
# pod template) names the users this member accepts. ZooKeeper reads them from a JAAS file, written here
# into the private, memory-backed directory; passwords are never printed. Names and passwords are checked
# so that neither can break out of the JAAS syntax (zkop generates both within these limits).
sasl_flags=""
if [ -n "${ZKOP_SASL_DIR:-}" ]; then
  jaas_dir="${ZKOP_RUNTIME:-/tmp}/zkop-sasl"
  mkdir -p "$jaas_dir"
  chmod 700 "$jaas_dir"
  if ! (
    umask 077
    set -f # the user list is split into words, never globbed
    exec > "$jaas_dir/jaas.conf.tmp"
    echo "Server {"
    echo "  org.apache.zookeeper.server.auth.DigestLoginModule required"
    for user in ${ZKOP_SASL_USERS:?ZKOP_SASL_USERS must list the SASL users}; do
      if ! [[ "$user" =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]]; then
        echo "zkop: SASL user '$user' is not a DNS label" >&2
        exit 65
      fi
      if [ ! -f "$ZKOP_SASL_DIR/$user" ]; then
        echo "zkop: the Secret mounted at $ZKOP_SASL_DIR has no password for SASL user '$user'" >&2
        exit 65
      fi
      password="$(cat "$ZKOP_SASL_DIR/$user")"
      if ! [[ "$password" =~ ^[A-Za-z0-9._~+/=-]+$ ]]; then
        echo "zkop: the SASL password of '$user' is empty or holds characters other than A-Z a-z 0-9 . _ ~ + / = -" >&2
        exit 65
      fi
      printf '  user_%s="%s"\n' "$user" "$password"
    done
    echo "  ;"
    echo "};"
  ); then
    rm -f "$jaas_dir/jaas.conf.tmp"
    exit 65
  fi
  mv "$jaas_dir/jaas.conf.tmp" "$jaas_dir/jaas.conf"
  echo "zkop: SASL DIGEST-MD5 for users: $ZKOP_SASL_USERS" >&2
  sasl_flags=" -Djava.security.auth.login.config=$jaas_dir/jaas.conf"
fi
{
  cat "$templates/zoo.cfg"
  echo "dataDir=$data_dir"
  echo "dynamicConfigFile=$dynamic"
  echo "admin.serverAddress=${POD_IP:-0.0.0.0}"
  # Static client listeners (TLS, and plain text kept for migration) bind the member's own address.
  if grep -q '^secureClientPort=' "$templates/zoo.cfg"; then echo "secureClientPortAddress=${POD_IP:-0.0.0.0}"; fi
  if grep -q '^clientPort=' "$templates/zoo.cfg"; then echo "clientPortAddress=${POD_IP:-0.0.0.0}"; fi
  printf '%s' "$tls_settings"
} > "$conf_dir/zoo.cfg.tmp"
mv "$conf_dir/zoo.cfg.tmp" "$conf_dir/zoo.cfg"
# Written fresh, never copied: a copy keeps the ConfigMap's read-only mode and a restarted member (not root)
# could not replace it.
cat "$templates/logback.xml" > "$conf_dir/logback.xml.tmp"
mv "$conf_dir/logback.xml.tmp" "$conf_dir/logback.xml"

echo "zkop: starting member $myid of $(grep -cE '^server\.' "$dynamic") from membership version $chosen_version" >&2
export ZOOCFGDIR="$conf_dir"
export SERVER_JVMFLAGS="${SERVER_JVMFLAGS:-} -Dzookeeper.DigestAuthenticationProvider.superDigest=${ZKOP_SUPER_DIGEST:?}${sasl_flags}"
exec zkServer.sh start-foreground "$conf_dir/zoo.cfg"
