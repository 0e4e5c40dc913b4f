# The article's starting point: three instances of v1.0.0 behind Fabio's tcp+sni listener.
# No update block: Nomad still gives service jobs a rolling update with its defaults
# (max_parallel 1, min_healthy_time 10s, healthy_deadline 5m, progress_deadline 10m).
job "httpsbackend-sni-1" {
  datacenters = ["dc1"]
  type        = "service"

  group "httpsbackend-sni-1" {
    count = 3

    network {
      port "https" {
        to = 7777
      }
    }

    task "httpsbackend-sni-1" {
      driver = "docker"

      config {
        image = "bigwhite/httpsbackendservice:v1.0.0"
        ports = ["https"]

        logging {
          type = "json-file"
        }
      }

      resources {
        cpu    = 100
        memory = 64
      }

      service {
        name = "httpsbackend-sni-1"
        port = "https"
        tags = ["urlprefix-mysite-sni-1.com/ proto=tcp+sni"]

        check {
          name     = "alive"
          type     = "tcp"
          interval = "10s"
          timeout  = "2s"
        }
      }
    }
  }
}
