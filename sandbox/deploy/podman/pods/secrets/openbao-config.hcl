# OpenBao's server configuration (sandbox): mounted read-only at /openbao/config/openbao-config.hcl as on a real
# host. The stand-in serves on the listener's port and keeps nothing in the storage path.
storage "file" {
  path = "/openbao/data"
}

listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true
}

ui = false
