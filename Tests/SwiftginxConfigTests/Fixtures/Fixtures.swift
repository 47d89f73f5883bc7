// Configuration texts used by several tests: the shipped default configuration and a
// Debian-style nginx.conf with its default site (TLS, gzip and module lines removed:
// those belong to later work).

enum Fixtures {
    static let defaultConfig = """
        worker_processes  1;
        daemon off;
        error_log  logs/error.log;
        pid        logs/swiftginx.pid;
        events { worker_connections 1024; }
        http {
            include       mime.types;
            default_type  application/octet-stream;
            log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                              '$status $body_bytes_sent "$http_referer" '
                              '"$http_user_agent" "$http_x_forwarded_for"';
            access_log  logs/access.log  main;
            sendfile        on;
            keepalive_timeout  65;
            server {
                listen       8080;
                server_name  localhost;
                location / {
                    root   html;
                    index  index.html index.htm;
                }
                error_page   500 502 503 504  /50x.html;
                location = /50x.html {
                    root   html;
                }
            }
        }

        """

    static let debianConfig = """
        user www-data;
        worker_processes auto;
        pid /run/nginx.pid;
        error_log /var/log/nginx/error.log;

        events {
        \tworker_connections 768;
        \t# multi_accept on;
        }

        http {

        \t##
        \t# Basic Settings
        \t##

        \tsendfile on;
        \ttcp_nopush on;
        \ttypes_hash_max_size 2048;
        \t# server_tokens off;

        \t# server_names_hash_bucket_size 64;
        \t# server_name_in_redirect off;

        \tinclude mime.types;
        \tdefault_type application/octet-stream;

        \t##
        \t# Logging Settings
        \t##

        \taccess_log /var/log/nginx/access.log;

        \t##
        \t# Virtual Host Configs
        \t##

        \tinclude conf.d/*.conf;
        \tinclude sites-enabled/*;
        }

        """

    static let debianDefaultSite = """
        # Default server configuration
        #
        server {
        \tlisten 80 default_server;
        \tlisten [::]:80 default_server;

        \troot /var/www/html;

        \t# Add index.php to the list if you are using PHP
        \tindex index.html index.htm index.nginx-debian.html;

        \tserver_name _;

        \tlocation / {
        \t\t# First attempt to serve request as file, then
        \t\t# as directory, then fall back to displaying a 404.
        \t\treturn 404;
        \t}
        }

        """
}
