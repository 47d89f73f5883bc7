// The temporary directories the serving process writes request bodies in, prepared by
// the supervisor before it starts serving, as nginx's master creates its temp paths:
// `<prefix>client_body_temp` and every `client_body_temp_path` directory are created
// (mode 0700) when missing and given to the `user` account, which could not create
// them in a directory owned by root; so are the cache zones' directories. Level subdirectories are made by the serving
// process inside them, as files need them.

import SwiftginxConfig
import SwiftginxPosix

extension Supervisor {
    func prepareTempPaths() {
        let owner = Account(name: account.name, uid: account.uid, gid: account.gid)
        for dir in [config.main.prefix + "client_body_temp"] + config.main.clientBodyTempPaths {
            FileSystem.makePrivateDirectory(dir)
            Privileges.chown(dir, to: owner)
        }
        // proxy_cache_path / uwsgi_cache_path directories (and their missing parents).
        for dir in config.cachePaths.values.map(\.path).sorted() {
            FileSystem.makeDirectories(dir)
            Privileges.chown(dir, to: owner)
        }
    }
}
