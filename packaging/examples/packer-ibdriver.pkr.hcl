# Packer provisioners that bake the InfiniBand driver into an image from an offline bundle (the build
# VM needs no access to NVIDIA's servers, and need not be an InfiniBand size). Before `packer build`, on
# a connected machine:
#   ibdriver fetch --os ubuntu:22.04 --driver-version 24.01 --to ./offline   # FILE and FILE.sha256, FILE is the catalog's name
# and put into ./offline as well: the ibdriver .deb (or .rpm for AlmaLinux/RHEL images) and
# ibdriver-first-boot (from this folder).
# Merge the build block into your template; the source is yours (azure-arm shown, with its usual
# settings). Keep your `waagent -force -deprovision+user` provisioner last, after these.

variable "bundle_file" {
  type        = string
  description = "The file name `ibdriver fetch --to` wrote, e.g. MLNX_OFED_LINUX-24.01-0.3.3.1-ubuntu22.04-x86_64.tgz"
}

variable "package_file" {
  type    = string
  default = "ibdriver_0.1.0-1_amd64.deb"
}

build {
  sources = ["source.azure-arm.hpc"]

  # No trailing slash: the folder itself goes into /tmp (Packer wants the destination to exist).
  provisioner "file" {
    source      = "offline"
    destination = "/tmp"
  }

  provisioner "shell" {
    execute_command = "sudo -E sh -eux '{{ .Path }}'"
    inline = [
      "export DEBIAN_FRONTEND=noninteractive",
      "apt-get install -y /tmp/offline/${var.package_file}",
      # The build VM is a general-purpose size: no InfiniBand device, and IMDS names a size the driver
      # is not for. Builds the DKMS modules for every installed kernel; nothing to validate here.
      "ibdriver install --yes --bundle /tmp/offline/${var.bundle_file} --skip-device-check --skip-vm-size-check --no-validate --lock-wait 900",
      "ibdriver status",
      # On each VM made from the image, once: the checks skipped here, then a port (ibdriver validate).
      "install -D -m 0755 /tmp/offline/ibdriver-first-boot /var/lib/cloud/scripts/per-instance/ibdriver-first-boot",
      "rm -rf /tmp/offline",
    ]
  }
}
