#!/bin/sh
# Generates what docker-compose.yml reads from deploy/secrets/ (or the directory given), keeping
# files that exist (delete one to rotate it). Nothing here enters git (deploy/.gitignore) or the
# image (.dockerignore); compose hands the files to containers as Docker secrets and env files.
#
#   mongo-keyfile                  replica-set internal authentication (0600; mongod gets a 0400 copy)
#   mongo_<role>_password          one per MongoDB user: admin (mongo-init only), migrator, api, worker
#                                  (0644 inside this 0700 directory: mongo-init reads them as the image's
#                                  unprivileged user)
#   <role>.env                     MONGO_URI with that role's user for migrate, api-N, worker-* (0600;
#                                  read by the compose CLI on this host)
#   tls/cert.pem, tls/key.pem      nginx's certificate and key. Generated self-signed (CN=localhost)
#                                  only when absent, for trying it out: put the real ones here.
#
#   sh deploy/secrets.sh [dir]
set -eu
dir=${1:-$(dirname "$0")/secrets}
members=mongo-1:27017,mongo-2:27017,mongo-3:27017
umask 077
mkdir -p "$dir/tls"
chmod 700 "$dir"

[ -s "$dir/mongo-keyfile" ] || openssl rand -base64 756 > "$dir/mongo-keyfile"
chmod 600 "$dir/mongo-keyfile"

for role in admin migrator api worker; do
  f="$dir/mongo_${role}_password"
  [ -s "$f" ] || openssl rand -hex 24 > "$f"
  chmod 644 "$f"
done

for role in migrator api worker; do
  f="$dir/$role.env"
  # Hex passwords need no percent-encoding in a URI.
  printf 'MONGO_URI=mongodb://creditdesk-%s:%s@%s/?replicaSet=rs0&authSource=admin\n' \
    "$role" "$(cat "$dir/mongo_${role}_password")" "$members" > "$f"
  chmod 600 "$f"
done

if [ ! -s "$dir/tls/cert.pem" ] || [ ! -s "$dir/tls/key.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$dir/tls/key.pem" -out "$dir/tls/cert.pem" 2>/dev/null
  echo "deploy/secrets.sh: generated a self-signed certificate for localhost (30 days); replace $dir/tls/cert.pem and key.pem with yours" >&2
fi
chmod 600 "$dir/tls/key.pem"
echo "deploy/secrets.sh: secrets in $dir" >&2
