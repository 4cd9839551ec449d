//! Responses parsed as botocore 1.44.8 parses them.
//!
//! Each expected value was produced by botocore's full client pipeline (parser and its
//! `after-call` handlers) from the same status, headers and body (a `before-send` hook
//! returning the canned response), then rendered as boto3 results are dumped to JSON:
//! datetimes as `isoformat()` in UTC, bytes and streaming bodies base64, `ResponseMetadata`
//! left out. Errors: `Error.Code`, `Error.Message` and the HTTP status of the `ClientError`.

use serde_json::Value;
use tollgate_models::{load, parse_response};

enum Expect {
    Ok(&'static str),
    Err(&'static str, &'static str, u16),
}

struct Resp {
    service: &'static str,
    operation: &'static str,
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
    expect: Expect,
}

fn check(r: &Resp) {
    let model = load(r.service).expect("model");
    let headers: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let got = parse_response(&model, r.operation, r.status, &headers, r.body.as_bytes());
    match r.expect {
        Expect::Ok(want) => {
            let want: Value = serde_json::from_str(want).expect("expected JSON");
            assert_eq!(got, Ok(want));
        }
        Expect::Err(code, message, status) => {
            let e = got.expect_err("an error");
            assert_eq!(
                (e.code.as_str(), e.message.as_str(), e.status),
                (code, message, status)
            );
        }
    }
}

#[test]
fn iam_list_roles() {
    check(&Resp {
        service: r#"iam"#,
        operation: r#"ListRoles"#,
        status: 200,
        headers: &[(r#"Content-Type"#, r#"text/xml"#)],
        body: r#"<ListRolesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <ListRolesResult>
    <IsTruncated>true</IsTruncated>
    <Marker>AAA=</Marker>
    <Roles>
      <member>
        <Path>/</Path>
        <AssumeRolePolicyDocument>%7B%22Version%22%3A%222012-10-17%22%7D</AssumeRolePolicyDocument>
        <MaxSessionDuration>3600</MaxSessionDuration>
        <RoleId>AROAEXAMPLE1</RoleId>
        <RoleName>app-role</RoleName>
        <Arn>arn:aws:iam::123456789012:role/app-role</Arn>
        <CreateDate>2019-01-02T03:04:05Z</CreateDate>
        <Description>A &amp; B</Description>
        <Tags>
          <member><Key>team</Key><Value>core</Value></member>
        </Tags>
        <RoleLastUsed><LastUsedDate>2024-05-06T07:08:09.123Z</LastUsedDate><Region>us-east-1</Region></RoleLastUsed>
      </member>
      <member>
        <Path>/svc/</Path>
        <RoleId>AROAEXAMPLE2</RoleId>
        <RoleName>other</RoleName>
        <Arn>arn:aws:iam::123456789012:role/svc/other</Arn>
        <CreateDate>2020-02-03T04:05:06Z</CreateDate>
      </member>
    </Roles>
  </ListRolesResult>
  <ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ResponseMetadata>
</ListRolesResponse>"#,
        expect: Expect::Ok(
            r#"{"IsTruncated": true, "Marker": "AAA=", "Roles": [{"Arn": "arn:aws:iam::123456789012:role/app-role", "AssumeRolePolicyDocument": {"Version": "2012-10-17"}, "CreateDate": "2019-01-02T03:04:05+00:00", "Description": "A & B", "MaxSessionDuration": 3600, "Path": "/", "RoleId": "AROAEXAMPLE1", "RoleLastUsed": {"LastUsedDate": "2024-05-06T07:08:09.123000+00:00", "Region": "us-east-1"}, "RoleName": "app-role", "Tags": [{"Key": "team", "Value": "core"}]}, {"Arn": "arn:aws:iam::123456789012:role/svc/other", "CreateDate": "2020-02-03T04:05:06+00:00", "Path": "/svc/", "RoleId": "AROAEXAMPLE2", "RoleName": "other"}]}"#,
        ),
    });
}

#[test]
fn iam_list_roles_empty() {
    check(&Resp {
        service: r#"iam"#,
        operation: r#"ListRoles"#,
        status: 200,
        headers: &[],
        body: r#"<ListRolesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListRolesResult><IsTruncated>false</IsTruncated><Roles/></ListRolesResult></ListRolesResponse>"#,
        expect: Expect::Ok(r#"{"IsTruncated": false, "Roles": []}"#),
    });
}

#[test]
fn sts_get_caller_identity() {
    check(&Resp {
        service: r#"sts"#,
        operation: r#"GetCallerIdentity"#,
        status: 200,
        headers: &[(r#"Content-Type"#, r#"text/xml"#)],
        body: r#"<?xml version="1.0" encoding="UTF-8"?>
<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn>
    <UserId>AROAEXAMPLE:s</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>"#,
        expect: Expect::Ok(
            r#"{"Account": "123456789012", "Arn": "arn:aws:sts::123456789012:assumed-role/r/s", "UserId": "AROAEXAMPLE:s"}"#,
        ),
    });
}

#[test]
fn sts_assume_role() {
    check(&Resp {
        service: r#"sts"#,
        operation: r#"AssumeRole"#,
        status: 200,
        headers: &[],
        body: r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>agent</SourceIdentity>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn><AssumedRoleId>ARO123EXAMPLE123:s</AssumedRoleId></AssumedRoleUser>
    <Credentials><AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId><SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey><SessionToken>FwoGZXIvYXdzEXAMPLE</SessionToken><Expiration>2024-07-15T23:28:33.359Z</Expiration></Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleResponse>"#,
        expect: Expect::Ok(
            r#"{"AssumedRoleUser": {"Arn": "arn:aws:sts::123456789012:assumed-role/r/s", "AssumedRoleId": "ARO123EXAMPLE123:s"}, "Credentials": {"AccessKeyId": "ASIAIOSFODNN7EXAMPLE", "Expiration": "2024-07-15T23:28:33.359000+00:00", "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY", "SessionToken": "FwoGZXIvYXdzEXAMPLE"}, "PackedPolicySize": 6, "SourceIdentity": "agent"}"#,
        ),
    });
}

#[test]
fn ec2_describe_instances() {
    check(&Resp {
        service: r#"ec2"#,
        operation: r#"DescribeInstances"#,
        status: 200,
        headers: &[(r#"Content-Type"#, r#"text/xml;charset=UTF-8"#)],
        body: r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
    <requestId>8f7724cf-496f-496e-8fe3-example</requestId>
    <reservationSet>
        <item>
            <reservationId>r-1234567890abcdef0</reservationId>
            <ownerId>123456789012</ownerId>
            <groupSet/>
            <instancesSet>
                <item>
                    <instanceId>i-1234567890abcdef0</instanceId>
                    <imageId>ami-bff32ccc</imageId>
                    <instanceState><code>16</code><name>running</name></instanceState>
                    <privateDnsName>ip-192-168-1-88.eu-west-1.compute.internal</privateDnsName>
                    <dnsName>ec2-54-194-252-215.eu-west-1.compute.amazonaws.com</dnsName>
                    <keyName>my_keypair</keyName>
                    <amiLaunchIndex>0</amiLaunchIndex>
                    <instanceType>t2.micro</instanceType>
                    <launchTime>2018-05-08T16:46:19.000Z</launchTime>
                    <placement><availabilityZone>eu-west-1c</availabilityZone><groupName/><tenancy>default</tenancy></placement>
                    <monitoring><state>disabled</state></monitoring>
                    <subnetId>subnet-56f5f633</subnetId>
                    <vpcId>vpc-11112222</vpcId>
                    <privateIpAddress>192.168.1.88</privateIpAddress>
                    <sourceDestCheck>true</sourceDestCheck>
                    <groupSet>
                        <item><groupId>sg-e4076980</groupId><groupName>SecurityGroup1</groupName></item>
                    </groupSet>
                    <architecture>x86_64</architecture>
                    <rootDeviceType>ebs</rootDeviceType>
                    <blockDeviceMapping>
                        <item><deviceName>/dev/xvda</deviceName><ebs><volumeId>vol-1234567890abcdef0</volumeId><status>attached</status><attachTime>2015-12-22T10:44:09.000Z</attachTime><deleteOnTermination>true</deleteOnTermination></ebs></item>
                    </blockDeviceMapping>
                    <ebsOptimized>false</ebsOptimized>
                    <tagSet>
                        <item><key>Name</key><value>Server_1</value></item>
                        <item><key>env</key><value/></item>
                    </tagSet>
                    <cpuOptions><coreCount>1</coreCount><threadsPerCore>1</threadsPerCore></cpuOptions>
                </item>
            </instancesSet>
        </item>
    </reservationSet>
    <nextToken>tok</nextToken>
</DescribeInstancesResponse>"#,
        expect: Expect::Ok(
            r#"{"NextToken": "tok", "Reservations": [{"Groups": [], "Instances": [{"AmiLaunchIndex": 0, "Architecture": "x86_64", "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"AttachTime": "2015-12-22T10:44:09+00:00", "DeleteOnTermination": true, "Status": "attached", "VolumeId": "vol-1234567890abcdef0"}}], "CpuOptions": {"CoreCount": 1, "ThreadsPerCore": 1}, "EbsOptimized": false, "ImageId": "ami-bff32ccc", "InstanceId": "i-1234567890abcdef0", "InstanceType": "t2.micro", "KeyName": "my_keypair", "LaunchTime": "2018-05-08T16:46:19+00:00", "Monitoring": {"State": "disabled"}, "Placement": {"AvailabilityZone": "eu-west-1c", "GroupName": "", "Tenancy": "default"}, "PrivateDnsName": "ip-192-168-1-88.eu-west-1.compute.internal", "PrivateIpAddress": "192.168.1.88", "PublicDnsName": "ec2-54-194-252-215.eu-west-1.compute.amazonaws.com", "RootDeviceType": "ebs", "SecurityGroups": [{"GroupId": "sg-e4076980", "GroupName": "SecurityGroup1"}], "SourceDestCheck": true, "State": {"Code": 16, "Name": "running"}, "SubnetId": "subnet-56f5f633", "Tags": [{"Key": "Name", "Value": "Server_1"}, {"Key": "env", "Value": ""}], "VpcId": "vpc-11112222"}], "OwnerId": "123456789012", "ReservationId": "r-1234567890abcdef0"}]}"#,
        ),
    });
}

#[test]
fn s3_list_objects_v2() {
    check(&Resp {
        service: r#"s3"#,
        operation: r#"ListObjectsV2"#,
        status: 200,
        headers: &[(r#"Content-Type"#, r#"application/xml"#)],
        body: r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>my-bucket</Name>
  <Prefix></Prefix>
  <KeyCount>2</KeyCount>
  <MaxKeys>1000</MaxKeys>
  <Delimiter>/</Delimiter>
  <IsTruncated>false</IsTruncated>
  <EncodingType>url</EncodingType>
  <Contents>
    <Key>a.txt</Key>
    <LastModified>2024-01-02T03:04:05.000Z</LastModified>
    <ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag>
    <ChecksumAlgorithm>CRC32</ChecksumAlgorithm>
    <Size>0</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <Key>b%20c.txt</Key>
    <LastModified>2024-01-03T03:04:05.120Z</LastModified>
    <ETag>"abc"</ETag>
    <Size>123456789012</Size>
    <Owner><ID>o1</ID><DisplayName>me</DisplayName></Owner>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes>
  <CommonPrefixes><Prefix>dir2/</Prefix></CommonPrefixes>
</ListBucketResult>"#,
        expect: Expect::Ok(
            r#"{"CommonPrefixes": [{"Prefix": "dir/"}, {"Prefix": "dir2/"}], "Contents": [{"ChecksumAlgorithm": ["CRC32"], "ETag": "\"d41d8cd98f00b204e9800998ecf8427e\"", "Key": "a.txt", "LastModified": "2024-01-02T03:04:05+00:00", "Size": 0, "StorageClass": "STANDARD"}, {"ETag": "\"abc\"", "Key": "b%20c.txt", "LastModified": "2024-01-03T03:04:05.120000+00:00", "Owner": {"DisplayName": "me", "ID": "o1"}, "Size": 123456789012, "StorageClass": "STANDARD"}], "Delimiter": "/", "EncodingType": "url", "IsTruncated": false, "KeyCount": 2, "MaxKeys": 1000, "Name": "my-bucket", "Prefix": ""}"#,
        ),
    });
}

#[test]
fn s3_list_objects_v2_single() {
    check(&Resp {
        service: r#"s3"#,
        operation: r#"ListObjectsV2"#,
        status: 200,
        headers: &[],
        body: r#"<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>my-bucket</Name><KeyCount>1</KeyCount><IsTruncated>false</IsTruncated><Contents><Key>only</Key><Size>1</Size></Contents></ListBucketResult>"#,
        expect: Expect::Ok(
            r#"{"Contents": [{"Key": "only", "Size": 1}], "IsTruncated": false, "KeyCount": 1, "Name": "my-bucket"}"#,
        ),
    });
}

#[test]
fn s3_get_object() {
    check(&Resp {
        service: r#"s3"#,
        operation: r#"GetObject"#,
        status: 200,
        headers: &[
            (r#"Content-Length"#, r#"11"#),
            (r#"ETag"#, r#""5eb63bbbe01eeed093cb22bb8f5acdc3""#),
            (r#"Last-Modified"#, r#"Tue, 02 Jan 2024 03:04:05 GMT"#),
            (r#"Content-Type"#, r#"text/plain"#),
            (r#"x-amz-meta-owner"#, r#"me"#),
            (r#"X-Amz-Meta-Team"#, r#"core"#),
            (r#"x-amz-version-id"#, r#"v1"#),
            (r#"Accept-Ranges"#, r#"bytes"#),
            (r#"x-amz-server-side-encryption"#, r#"AES256"#),
            (r#"x-amz-request-id"#, r#"RID"#),
            (r#"x-amz-tagging-count"#, r#"2"#),
            (r#"x-amz-delete-marker"#, r#"false"#),
        ],
        body: r#"hello world"#,
        expect: Expect::Ok(
            r#"{"AcceptRanges": "bytes", "Body": "aGVsbG8gd29ybGQ=", "ContentLength": 11, "ContentType": "text/plain", "DeleteMarker": false, "ETag": "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"", "LastModified": "2024-01-02T03:04:05+00:00", "Metadata": {"Team": "core", "owner": "me"}, "ServerSideEncryption": "AES256", "TagCount": 2, "VersionId": "v1"}"#,
        ),
    });
}

#[test]
fn s3_head_object() {
    check(&Resp {
        service: r#"s3"#,
        operation: r#"HeadObject"#,
        status: 200,
        headers: &[
            (r#"Content-Length"#, r#"3"#),
            (r#"ETag"#, r#""e""#),
            (r#"Last-Modified"#, r#"Wed, 03 Jan 2024 03:04:05 GMT"#),
            (r#"Content-Type"#, r#"binary/octet-stream"#),
        ],
        body: r#""#,
        expect: Expect::Ok(
            r#"{"ContentLength": 3, "ContentType": "binary/octet-stream", "ETag": "\"e\"", "LastModified": "2024-01-03T03:04:05+00:00", "Metadata": {}}"#,
        ),
    });
}

#[test]
fn s3_get_bucket_location() {
    check(&Resp {
        service: r#"s3"#,
        operation: r#"GetBucketLocation"#,
        status: 200,
        headers: &[],
        body: r#"<?xml version="1.0" encoding="UTF-8"?>
<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">eu-west-1</LocationConstraint>"#,
        expect: Expect::Ok(r#"{"LocationConstraint": "eu-west-1"}"#),
    });
}

#[test]
fn s3_get_bucket_location_us_east_1() {
    check(&Resp {
        service: r#"s3"#,
        operation: r#"GetBucketLocation"#,
        status: 200,
        headers: &[],
        body: r#"<?xml version="1.0" encoding="UTF-8"?>
<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#,
        expect: Expect::Ok(r#"{"LocationConstraint": null}"#),
    });
}

#[test]
fn s3_get_bucket_policy() {
    check(&Resp {
        service: r#"s3"#,
        operation: r#"GetBucketPolicy"#,
        status: 200,
        headers: &[],
        body: r#"{"Version":"2012-10-17","Statement":[]}"#,
        expect: Expect::Ok(r#"{"Policy": "{\"Version\":\"2012-10-17\",\"Statement\":[]}"}"#),
    });
}

#[test]
fn s3_get_bucket_tagging() {
    check(&Resp {
        service: r#"s3"#,
        operation: r#"GetBucketTagging"#,
        status: 200,
        headers: &[],
        body: r#"<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value></Value></Tag></TagSet></Tagging>"#,
        expect: Expect::Ok(
            r#"{"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}]}"#,
        ),
    });
}

#[test]
fn s3_get_bucket_acl() {
    check(&Resp {
        service: r#"s3"#,
        operation: r#"GetBucketAcl"#,
        status: 200,
        headers: &[],
        body: r#"<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>o</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>o</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>"#,
        expect: Expect::Ok(
            r#"{"Grants": [{"Grantee": {"ID": "o", "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}], "Owner": {"ID": "o"}}"#,
        ),
    });
}

#[test]
fn s3_put_object() {
    check(&Resp {
        service: r#"s3"#,
        operation: r#"PutObject"#,
        status: 200,
        headers: &[
            (r#"ETag"#, r#""9dd4e461268c8034f5c8564e155c67a6""#),
            (r#"x-amz-checksum-crc32"#, r#"jNwWgw=="#),
            (r#"x-amz-server-side-encryption"#, r#"AES256"#),
        ],
        body: r#""#,
        expect: Expect::Ok(
            r#"{"ChecksumCRC32": "jNwWgw==", "ETag": "\"9dd4e461268c8034f5c8564e155c67a6\"", "ServerSideEncryption": "AES256"}"#,
        ),
    });
}

#[test]
fn s3_delete_objects() {
    check(&Resp {
        service: r#"s3"#,
        operation: r#"DeleteObjects"#,
        status: 200,
        headers: &[],
        body: r#"<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>"#,
        expect: Expect::Ok(
            r#"{"Deleted": [{"Key": "a"}], "Errors": [{"Code": "AccessDenied", "Key": "b", "Message": "Access Denied"}]}"#,
        ),
    });
}

#[test]
fn lambda_get_function() {
    check(&Resp {
        service: r#"lambda"#,
        operation: r#"GetFunction"#,
        status: 200,
        headers: &[
            (r#"Content-Type"#, r#"application/json"#),
            (r#"x-amzn-RequestId"#, r#"r"#),
        ],
        body: r#"{"Configuration": {"FunctionName": "f", "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f", "Runtime": "python3.12", "Role": "arn:aws:iam::123456789012:role/r", "Handler": "app.handler", "CodeSize": 1234, "Description": "", "Timeout": 3, "MemorySize": 128, "LastModified": "2024-01-02T03:04:05.000+0000", "CodeSha256": "abc=", "Version": "$LATEST", "Environment": {"Variables": {"A": "1"}}, "TracingConfig": {"Mode": "PassThrough"}, "Layers": [{"Arn": "arn:aws:lambda:us-east-1:123456789012:layer:l:1", "CodeSize": 10}], "State": "Active", "Architectures": ["x86_64"], "EphemeralStorage": {"Size": 512}, "Unknown": "dropped"}, "Code": {"RepositoryType": "S3", "Location": "https://awslambda-us-east-1-tasks.s3.us-east-1.amazonaws.com/snapshots/x?X-Amz-Signature=abc"}, "Tags": {"team": "core"}}"#,
        expect: Expect::Ok(
            r#"{"Code": {"Location": "https://awslambda-us-east-1-tasks.s3.us-east-1.amazonaws.com/snapshots/x?X-Amz-Signature=abc", "RepositoryType": "S3"}, "Configuration": {"Architectures": ["x86_64"], "CodeSha256": "abc=", "CodeSize": 1234, "Description": "", "Environment": {"Variables": {"A": "1"}}, "EphemeralStorage": {"Size": 512}, "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f", "FunctionName": "f", "Handler": "app.handler", "LastModified": "2024-01-02T03:04:05.000+0000", "Layers": [{"Arn": "arn:aws:lambda:us-east-1:123456789012:layer:l:1", "CodeSize": 10}], "MemorySize": 128, "Role": "arn:aws:iam::123456789012:role/r", "Runtime": "python3.12", "State": "Active", "Timeout": 3, "TracingConfig": {"Mode": "PassThrough"}, "Version": "$LATEST"}, "Tags": {"team": "core"}}"#,
        ),
    });
}

#[test]
fn lambda_invoke() {
    check(&Resp {
        service: r#"lambda"#,
        operation: r#"Invoke"#,
        status: 200,
        headers: &[
            (r#"X-Amz-Executed-Version"#, r#"$LATEST"#),
            (r#"X-Amz-Function-Error"#, r#"Unhandled"#),
            (r#"X-Amz-Log-Result"#, r#"bG9ncw=="#),
        ],
        body: r#"{"errorMessage": "boom"}"#,
        expect: Expect::Ok(
            r#"{"ExecutedVersion": "$LATEST", "FunctionError": "Unhandled", "LogResult": "bG9ncw==", "Payload": "eyJlcnJvck1lc3NhZ2UiOiAiYm9vbSJ9", "StatusCode": 200}"#,
        ),
    });
}

#[test]
fn lambda_list_functions() {
    check(&Resp {
        service: r#"lambda"#,
        operation: r#"ListFunctions"#,
        status: 200,
        headers: &[],
        body: r#"{"Functions": [{"FunctionName": "a", "LastModified": "2024-01-02T03:04:05.123+0000"}], "NextMarker": "m"}"#,
        expect: Expect::Ok(
            r#"{"Functions": [{"FunctionName": "a", "LastModified": "2024-01-02T03:04:05.123+0000"}], "NextMarker": "m"}"#,
        ),
    });
}

#[test]
fn dynamodb_describe_table() {
    check(&Resp {
        service: r#"dynamodb"#,
        operation: r#"DescribeTable"#,
        status: 200,
        headers: &[(r#"Content-Type"#, r#"application/x-amz-json-1.0"#)],
        body: r#"{"Table": {"TableName": "t", "TableStatus": "ACTIVE", "CreationDateTime": 1704164645.123, "ItemCount": 0, "TableSizeBytes": 0, "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}], "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}], "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST", "LastUpdateToPayPerRequestDateTime": 1704164645}, "ProvisionedThroughput": {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0}}}"#,
        expect: Expect::Ok(
            r#"{"Table": {"AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}], "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST", "LastUpdateToPayPerRequestDateTime": "2024-01-02T03:04:05+00:00"}, "CreationDateTime": "2024-01-02T03:04:05.123000+00:00", "ItemCount": 0, "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}], "ProvisionedThroughput": {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0}, "TableName": "t", "TableSizeBytes": 0, "TableStatus": "ACTIVE"}}"#,
        ),
    });
}

#[test]
fn dynamodb_get_item() {
    check(&Resp {
        service: r#"dynamodb"#,
        operation: r#"GetItem"#,
        status: 200,
        headers: &[],
        body: r#"{"Item": {"id": {"S": "1"}, "b": {"B": "aGVsbG8="}, "n": {"N": "1"}, "m": {"M": {"x": {"SS": ["a"]}}}}}"#,
        expect: Expect::Ok(
            r#"{"Item": {"b": {"B": "aGVsbG8="}, "id": {"S": "1"}, "m": {"M": {"x": {"SS": ["a"]}}}, "n": {"N": "1"}}}"#,
        ),
    });
}

#[test]
fn sqs_receive_message() {
    check(&Resp {
        service: r#"sqs"#,
        operation: r#"ReceiveMessage"#,
        status: 200,
        headers: &[],
        body: r#"{"Messages": [{"MessageId": "m1", "ReceiptHandle": "rh", "MD5OfBody": "x", "Body": "hi", "Attributes": {"SentTimestamp": "1704164645000"}, "MessageAttributes": {"a": {"DataType": "Binary", "BinaryValue": "AAE="}}}]}"#,
        expect: Expect::Ok(
            r#"{"Messages": [{"Attributes": {"SentTimestamp": "1704164645000"}, "Body": "hi", "MD5OfBody": "x", "MessageAttributes": {"a": {"BinaryValue": "AAE=", "DataType": "Binary"}}, "MessageId": "m1", "ReceiptHandle": "rh"}]}"#,
        ),
    });
}

#[test]
fn stepfunctions_list_state_machines() {
    check(&Resp {
        service: r#"stepfunctions"#,
        operation: r#"ListStateMachines"#,
        status: 200,
        headers: &[],
        body: r#"{"stateMachines": [{"stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:a", "name": "a", "type": "STANDARD", "creationDate": 1704164645.0}]}"#,
        expect: Expect::Ok(
            r#"{"stateMachines": [{"creationDate": "2024-01-02T03:04:05+00:00", "name": "a", "stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:a", "type": "STANDARD"}]}"#,
        ),
    });
}

#[test]
fn cloudwatch_get_metric_data() {
    check(&Resp {
        service: r#"cloudwatch"#,
        operation: r#"GetMetricData"#,
        status: 200,
        headers: &[],
        body: r#"{"MetricDataResults": [{"Id": "q1", "Label": "l", "Timestamps": [1704067200, 1704067260.5], "Values": [1.5, 2], "StatusCode": "Complete"}], "Messages": []}"#,
        expect: Expect::Ok(
            r#"{"Messages": [], "MetricDataResults": [{"Id": "q1", "Label": "l", "StatusCode": "Complete", "Timestamps": ["2024-01-01T00:00:00+00:00", "2024-01-01T00:01:00.500000+00:00"], "Values": [1.5, 2]}]}"#,
        ),
    });
}

#[test]
fn sns_publish() {
    check(&Resp {
        service: r#"sns"#,
        operation: r#"Publish"#,
        status: 200,
        headers: &[],
        body: r#"<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>94f20ce6-13c5-43a0-9a9e-ca52d816e90b</MessageId></PublishResult><ResponseMetadata><RequestId>f187a3c1-376f-11df-8963-01868b7c937a</RequestId></ResponseMetadata></PublishResponse>"#,
        expect: Expect::Ok(r#"{"MessageId": "94f20ce6-13c5-43a0-9a9e-ca52d816e90b"}"#),
    });
}

#[test]
fn sns_get_topic_attributes() {
    check(&Resp {
        service: r#"sns"#,
        operation: r#"GetTopicAttributes"#,
        status: 200,
        headers: &[],
        body: r#"<GetTopicAttributesResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><GetTopicAttributesResult><Attributes>
  <entry><key>Owner</key><value>123456789012</value></entry>
  <entry><key>Policy</key><value>{&quot;Version&quot;:&quot;2008-10-17&quot;}</value></entry>
  <entry><key>DisplayName</key><value></value></entry>
</Attributes></GetTopicAttributesResult></GetTopicAttributesResponse>"#,
        expect: Expect::Ok(
            r#"{"Attributes": {"DisplayName": "", "Owner": "123456789012", "Policy": "{\"Version\":\"2008-10-17\"}"}}"#,
        ),
    });
}

#[test]
fn route53_list_hosted_zones() {
    check(&Resp {
        service: r#"route53"#,
        operation: r#"ListHostedZones"#,
        status: 200,
        headers: &[],
        body: r#"<?xml version="1.0" encoding="UTF-8"?>
<ListHostedZonesResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">
   <HostedZones>
      <HostedZone><Id>/hostedzone/Z111111QQQQQQQ</Id><Name>example.com.</Name><CallerReference>MyRef</CallerReference><Config><Comment>My first hosted zone</Comment><PrivateZone>false</PrivateZone></Config><ResourceRecordSetCount>17</ResourceRecordSetCount></HostedZone>
   </HostedZones>
   <IsTruncated>false</IsTruncated>
   <MaxItems>100</MaxItems>
</ListHostedZonesResponse>"#,
        expect: Expect::Ok(
            r#"{"HostedZones": [{"CallerReference": "MyRef", "Config": {"Comment": "My first hosted zone", "PrivateZone": false}, "Id": "/hostedzone/Z111111QQQQQQQ", "Name": "example.com.", "ResourceRecordSetCount": 17}], "IsTruncated": false, "MaxItems": "100"}"#,
        ),
    });
}

#[test]
fn apigateway_get_rest_apis() {
    check(&Resp {
        service: r#"apigateway"#,
        operation: r#"GetRestApis"#,
        status: 200,
        headers: &[],
        body: r#"{"item": [{"id": "a1", "name": "api", "createdDate": 1704164645, "endpointConfiguration": {"types": ["REGIONAL"]}, "tags": {"k": "v"}}]}"#,
        expect: Expect::Ok(
            r#"{"items": [{"createdDate": "2024-01-02T03:04:05+00:00", "endpointConfiguration": {"types": ["REGIONAL"]}, "id": "a1", "name": "api", "tags": {"k": "v"}}]}"#,
        ),
    });
}

#[test]
fn ec2_run_instances_empty_sets() {
    check(&Resp {
        service: r#"ec2"#,
        operation: r#"DescribeVpcs"#,
        status: 200,
        headers: &[],
        body: r#"<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><vpcSet><item><vpcId>vpc-1</vpcId><state>available</state><cidrBlock>10.0.0.0/16</cidrBlock><isDefault>true</isDefault><tagSet/></item></vpcSet></DescribeVpcsResponse>"#,
        expect: Expect::Ok(
            r#"{"Vpcs": [{"CidrBlock": "10.0.0.0/16", "IsDefault": true, "State": "available", "Tags": [], "VpcId": "vpc-1"}]}"#,
        ),
    });
}

#[test]
fn iam_error() {
    check(&Resp {
        service: r#"iam"#,
        operation: r#"GetRole"#,
        status: 404,
        headers: &[(r#"Content-Type"#, r#"text/xml"#)],
        body: r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <Error>
    <Type>Sender</Type>
    <Code>NoSuchEntity</Code>
    <Message>The role with name x cannot be found.</Message>
  </Error>
  <RequestId>4b5d5e8b-example</RequestId>
</ErrorResponse>"#,
        expect: Expect::Err(
            r#"NoSuchEntity"#,
            r#"The role with name x cannot be found."#,
            404,
        ),
    });
}

#[test]
fn sts_error() {
    check(&Resp {
        service: r#"sts"#,
        operation: r#"AssumeRole"#,
        status: 403,
        headers: &[],
        body: r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::1:user/u is not authorized to perform: sts:AssumeRole</Message></Error><RequestId>r</RequestId></ErrorResponse>"#,
        expect: Expect::Err(
            r#"AccessDenied"#,
            r#"User: arn:aws:iam::1:user/u is not authorized to perform: sts:AssumeRole"#,
            403,
        ),
    });
}

#[test]
fn ec2_error() {
    check(&Resp {
        service: r#"ec2"#,
        operation: r#"DescribeInstances"#,
        status: 400,
        headers: &[],
        body: r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>The instance ID 'i-1' does not exist</Message></Error></Errors><RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>"#,
        expect: Expect::Err(
            r#"InvalidInstanceID.NotFound"#,
            r#"The instance ID 'i-1' does not exist"#,
            400,
        ),
    });
}

#[test]
fn s3_error() {
    check(&Resp {
        service: r#"s3"#,
        operation: r#"GetObject"#,
        status: 404,
        headers: &[(r#"Content-Type"#, r#"application/xml"#)],
        body: r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>k</Key><RequestId>R</RequestId><HostId>H</HostId></Error>"#,
        expect: Expect::Err(r#"NoSuchKey"#, r#"The specified key does not exist."#, 404),
    });
}

#[test]
fn s3_head_error() {
    check(&Resp {
        service: r#"s3"#,
        operation: r#"HeadObject"#,
        status: 404,
        headers: &[(r#"x-amz-request-id"#, r#"R"#)],
        body: r#""#,
        expect: Expect::Err(r#"404"#, r#"Not Found"#, 404),
    });
}

#[test]
fn s3_head_forbidden() {
    check(&Resp {
        service: r#"s3"#,
        operation: r#"HeadBucket"#,
        status: 403,
        headers: &[],
        body: r#""#,
        expect: Expect::Err(r#"403"#, r#"Forbidden"#, 403),
    });
}

#[test]
fn s3_copy_200_error() {
    check(&Resp {
        service: r#"s3"#,
        operation: r#"CopyObject"#,
        status: 200,
        headers: &[],
        body: r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>R</RequestId></Error>"#,
        expect: Expect::Err(
            r#"InternalError"#,
            r#"We encountered an internal error. Please try again."#,
            500,
        ),
    });
}

#[test]
fn dynamodb_error() {
    check(&Resp {
        service: r#"dynamodb"#,
        operation: r#"DeleteTable"#,
        status: 400,
        headers: &[(r#"x-amzn-RequestId"#, r#"r"#)],
        body: r#"{"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "message": "Requested resource not found: Table: t not found"}"#,
        expect: Expect::Err(
            r#"ResourceNotFoundException"#,
            r#"Requested resource not found: Table: t not found"#,
            400,
        ),
    });
}

#[test]
fn dynamodb_error_capital_message() {
    check(&Resp {
        service: r#"dynamodb"#,
        operation: r#"PutItem"#,
        status: 400,
        headers: &[],
        body: r#"{"__type": "com.amazon.coral.validate#ValidationException", "Message": "One or more parameter values were invalid"}"#,
        expect: Expect::Err(
            r#"ValidationException"#,
            r#"One or more parameter values were invalid"#,
            400,
        ),
    });
}

#[test]
fn sqs_error() {
    check(&Resp {
        service: r#"sqs"#,
        operation: r#"GetQueueUrl"#,
        status: 400,
        headers: &[(
            r#"x-amzn-query-error"#,
            r#"AWS.SimpleQueueService.NonExistentQueue;Sender"#,
        )],
        body: r#"{"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "The specified queue does not exist."}"#,
        expect: Expect::Err(
            r#"AWS.SimpleQueueService.NonExistentQueue"#,
            r#"The specified queue does not exist."#,
            400,
        ),
    });
}

#[test]
fn cloudwatch_error() {
    check(&Resp {
        service: r#"cloudwatch"#,
        operation: r#"DescribeAlarms"#,
        status: 400,
        headers: &[(r#"x-amzn-query-error"#, r#"InvalidParameterValue;Sender"#)],
        body: r#"{"__type": "com.amazonaws.cloudwatch#InvalidParameterValueException", "message": "bad"}"#,
        expect: Expect::Err(r#"InvalidParameterValue"#, r#"bad"#, 400),
    });
}

#[test]
fn lambda_error() {
    check(&Resp {
        service: r#"lambda"#,
        operation: r#"GetFunction"#,
        status: 404,
        headers: &[
            (
                r#"x-amzn-ErrorType"#,
                r#"ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.awslambda/"#,
            ),
            (r#"Content-Type"#, r#"application/json"#),
        ],
        body: r#"{"Type": "User", "Message": "Function not found: arn:aws:lambda:us-east-1:1:function:f"}"#,
        expect: Expect::Err(
            r#"ResourceNotFoundException"#,
            r#"Function not found: arn:aws:lambda:us-east-1:1:function:f"#,
            404,
        ),
    });
}

#[test]
fn apigateway_error() {
    check(&Resp {
        service: r#"apigateway"#,
        operation: r#"GetRestApi"#,
        status: 404,
        headers: &[],
        body: r#"{"message": "Invalid API identifier specified", "code": "NotFoundException"}"#,
        expect: Expect::Err(
            r#"NotFoundException"#,
            r#"Invalid API identifier specified"#,
            404,
        ),
    });
}

#[test]
fn stepfunctions_error() {
    check(&Resp {
        service: r#"stepfunctions"#,
        operation: r#"DescribeStateMachine"#,
        status: 400,
        headers: &[],
        body: r#"{"__type": "StateMachineDoesNotExist", "message": "State Machine Does Not Exist"}"#,
        expect: Expect::Err(
            r#"StateMachineDoesNotExist"#,
            r#"State Machine Does Not Exist"#,
            400,
        ),
    });
}

#[test]
fn throttled_html() {
    check(&Resp {
        service: r#"dynamodb"#,
        operation: r#"ListTables"#,
        status: 503,
        headers: &[],
        body: r#"<html><body>Service Unavailable</body></html>"#,
        expect: Expect::Err(r#"503"#, r#"Service Unavailable"#, 503),
    });
}

#[test]
fn route53_error() {
    check(&Resp {
        service: r#"route53"#,
        operation: r#"GetHostedZone"#,
        status: 404,
        headers: &[],
        body: r#"<?xml version="1.0"?>
<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>NoSuchHostedZone</Code><Message>No hosted zone found with ID: Z1</Message></Error><RequestId>r</RequestId></ErrorResponse>"#,
        expect: Expect::Err(
            r#"NoSuchHostedZone"#,
            r#"No hosted zone found with ID: Z1"#,
            404,
        ),
    });
}

#[test]
fn sns_error() {
    check(&Resp {
        service: r#"sns"#,
        operation: r#"Publish"#,
        status: 404,
        headers: &[],
        body: r#"<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist</Message></Error><RequestId>r</RequestId></ErrorResponse>"#,
        expect: Expect::Err(r#"NotFound"#, r#"Topic does not exist"#, 404),
    });
}
