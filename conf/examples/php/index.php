<?php
// A tiny PHP application for conf/examples/django-php-fpm.conf: it reports what
// PHP-FPM received from swiftginx through fastcgi.conf.
header('Content-Type: text/plain');
echo "PHP via ", $_SERVER['GATEWAY_INTERFACE'] ?? '?', "\n";
echo "script: ", $_SERVER['SCRIPT_NAME'] ?? '', "\n";
echo "path_info: ", $_SERVER['PATH_INFO'] ?? '', "\n";
echo "query: ", $_SERVER['QUERY_STRING'] ?? '', "\n";
