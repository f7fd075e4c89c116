#!/usr/bin/env bash
# Turn the disk image into an EC2 HVM AMI (Xen instance types: the appliance
# drives Xen's netfront, not ENA or virtio):
#
#   ami.sh IMAGE           print the steps (nothing needs AWS)
#   ami.sh IMAGE --run     do them with the aws CLI and its credentials
#
# Environment: AMI_BUCKET (an S3 bucket the vmimport role can read; required
# for --run), AMI_NAME (default appliance-<version>-<image sha>), AWS_REGION
# or the CLI's default region, AWS (the CLI to run, default aws). Prerequisites (README, "Machine image"): the
# `vmimport` service role, and for the caller s3:PutObject on the bucket,
# ec2:ImportSnapshot, ec2:DescribeImportSnapshotTasks, ec2:RegisterImage.
set -euo pipefail
IMAGE=${1:?usage: ami.sh IMAGE [--run]}
RUN=0
[ "${2:-}" = --run ] && RUN=1
[ -s "$IMAGE" ] || { echo "ami: $IMAGE missing (./run.sh image)" >&2; exit 1; }
sha=$(sha256sum "$IMAGE" | cut -c1-12)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$(dirname "$0")/../Cargo.toml" | head -1)
BUCKET=${AMI_BUCKET:-<your-bucket>}
NAME=${AMI_NAME:-appliance-$version-$sha}
KEY=images/$NAME.img

plan() {
    cat <<PLAN
# 1. upload the raw image
aws s3 cp $IMAGE s3://$BUCKET/$KEY
# 2. import it as an EBS snapshot (the vmimport role reads the bucket)
aws ec2 import-snapshot --description "$NAME" \\
    --disk-container "Format=raw,Description=$NAME,UserBucket={S3Bucket=$BUCKET,S3Key=$KEY}"
# 3. wait for it: repeat until Status is completed, note SnapshotId
aws ec2 describe-import-snapshot-tasks --import-task-ids <import-snap-...>
# 4. register an HVM AMI booting that snapshot through the BIOS (GRUB in the MBR)
aws ec2 register-image --name "$NAME" --architecture x86_64 \\
    --virtualization-type hvm --boot-mode legacy-bios --no-ena-support \\
    --root-device-name /dev/xvda \\
    --block-device-mappings "DeviceName=/dev/xvda,Ebs={SnapshotId=<snap-...>,VolumeType=gp3,DeleteOnTermination=true}"
# 5. launch on a Xen instance type (t2, m4, c4, r4, ...: netfront, no ENA), with IMDSv2
aws ec2 run-instances --image-id <ami-...> --instance-type t2.micro --key-name <your-key> \\
    --metadata-options HttpTokens=required,HttpEndpoint=enabled
# the console (aws ec2 get-console-output) shows the ssh-key: line and the fingerprints
PLAN
}

if [ $RUN -eq 0 ]; then
    echo "# image: $IMAGE ($(stat -c %s "$IMAGE") bytes, sha256 $sha...), AMI name $NAME"
    plan
    exit 0
fi

AWS=${AWS:-aws}
command -v "$AWS" >/dev/null || { echo "ami: the aws CLI ($AWS) is not installed" >&2; exit 1; }
[ -n "${AMI_BUCKET:-}" ] || { echo "ami: set AMI_BUCKET" >&2; exit 1; }
aws() { "$AWS" "$@"; }
aws sts get-caller-identity >/dev/null || { echo "ami: no usable AWS credentials" >&2; exit 1; }
say() { echo "ami: $*" >&2; }
say "uploading to s3://$BUCKET/$KEY"
aws s3 cp "$IMAGE" "s3://$BUCKET/$KEY"
task=$(aws ec2 import-snapshot --description "$NAME" \
    --disk-container "Format=raw,Description=$NAME,UserBucket={S3Bucket=$BUCKET,S3Key=$KEY}" \
    --query ImportTaskId --output text)
say "import task $task"
snap=""
for _ in $(seq 1 180); do
    read -r status snap < <(aws ec2 describe-import-snapshot-tasks --import-task-ids "$task" \
        --query 'ImportSnapshotTasks[0].SnapshotTaskDetail.[Status,SnapshotId]' --output text)
    case "$status" in
        completed) break ;;
        deleted | deleting) say "import failed: $(aws ec2 describe-import-snapshot-tasks --import-task-ids "$task" \
            --query 'ImportSnapshotTasks[0].SnapshotTaskDetail.StatusMessage' --output text)"; exit 1 ;;
    esac
    sleep 10
done
[ "$status" = completed ] || { say "import still $status after 30 minutes: task $task"; exit 1; }
say "snapshot $snap"
ami=$(aws ec2 register-image --name "$NAME" --architecture x86_64 \
    --virtualization-type hvm --boot-mode legacy-bios --no-ena-support \
    --root-device-name /dev/xvda \
    --block-device-mappings "DeviceName=/dev/xvda,Ebs={SnapshotId=$snap,VolumeType=gp3,DeleteOnTermination=true}" \
    --query ImageId --output text)
echo "ami: registered $ami ($NAME) from $snap"
