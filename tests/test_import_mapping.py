"""Column mapping: Salesforce and HubSpot headers, explicit overrides, table detection."""
from territory_core.ingest.mapping import apply_overrides, guess_mapping, guess_table, parse_map_args

SF_ACCOUNT = ["Id", "Name", "ParentId", "Type", "Industry", "NumberOfEmployees", "AnnualRevenue", "BillingStreet",
              "BillingCity", "BillingState", "BillingPostalCode", "BillingCountry", "BillingLatitude",
              "BillingLongitude", "OwnerId", "ARR__c"]
SF_USER = ["Id", "Username", "FirstName", "LastName", "Name", "UserRole.Name", "Manager.Name", "IsActive", "PostalCode"]
SF_OPP = ["Id", "AccountId", "OwnerId", "Name", "StageName", "Amount", "CreatedDate", "CloseDate", "IsClosed", "IsWon"]
HUBSPOT = ["Record ID", "Company name", "Company owner", "Industry", "Number of Employees", "Annual Revenue", "City",
           "State/Region", "Postal Code", "Country/Region", "Parent Company", "Total Revenue"]


def test_salesforce_account_headers():
    m = guess_mapping(SF_ACCOUNT, "accounts")
    assert m["Id"] == "account_id" and m["ParentId"] == "parent_id" and m["BillingPostalCode"] == "zip"
    assert m["BillingState"] == "state" and m["BillingLatitude"] == "lat" and m["OwnerId"] == "owner_id"
    assert m["NumberOfEmployees"] == "employees" and m["AnnualRevenue"] == "annual_revenue"
    assert m["ARR__c"] is None and m["Type"] is None and m["BillingStreet"] is None


def test_header_matching_ignores_case_and_punctuation():
    m = guess_mapping(["ID", "NAME", "BILLINGPOSTALCODE", "billing_state"], "accounts")
    assert m == {"ID": "account_id", "NAME": "name", "BILLINGPOSTALCODE": "zip", "billing_state": "state"}


def test_shipping_address_is_a_fallback_only():
    m = guess_mapping(["Id", "Name", "ShippingPostalCode", "BillingPostalCode"], "accounts")
    assert m["BillingPostalCode"] == "zip" and m["ShippingPostalCode"] is None
    m = guess_mapping(["Id", "Name", "ShippingPostalCode"], "accounts")
    assert m["ShippingPostalCode"] == "zip"


def test_user_opportunity_and_hubspot_headers():
    u = guess_mapping(SF_USER, "reps")
    assert u["Id"] == "rep_id" and u["Name"] == "name" and u["IsActive"] == "active" and u["PostalCode"] == "home_zip"
    assert u["UserRole.Name"] == "role" and u["Manager.Name"] == "manager"
    o = guess_mapping(SF_OPP, "opportunities")
    assert o["StageName"] == "stage" and o["IsWon"] == "is_won" and o["AccountId"] == "account_id"
    assert o["Name"] is None
    h = guess_mapping(HUBSPOT, "accounts")
    assert h["Record ID"] == "account_id" and h["Company name"] == "name" and h["State/Region"] == "state"
    assert h["Postal Code"] == "zip" and h["Company owner"] == "owner_id" and h["Total Revenue"] is None


def test_guess_table():
    assert guess_table(SF_ACCOUNT) == "accounts"
    assert guess_table(SF_USER) == "reps"
    assert guess_table(SF_OPP) == "opportunities"
    assert guess_table(HUBSPOT) == "accounts"
    assert guess_table(["account_id", "product", "arr"]) == "account_products"
    assert guess_table(["rep_id", "name", "region", "segment", "capacity"]) == "reps"


def test_overrides_take_the_column_from_other_headers():
    m = guess_mapping(SF_ACCOUNT, "accounts")
    m2, problems = apply_overrides(m, {"ARR__c": "arr", "annualrevenue": None, "Name": "bogus"}, "accounts")
    assert m2["ARR__c"] == "arr" and m2["AnnualRevenue"] is None
    assert problems and "bogus" in problems[0] and m2["Name"] == "name"
    m3, _ = apply_overrides(m, {"BillingCity": "zip"}, "accounts")
    assert m3["BillingCity"] == "zip" and m3["BillingPostalCode"] is None


def test_parse_map_args():
    assert parse_map_args(["ARR__c=arr", "Notes="]) == ({"ARR__c": "arr", "Notes": None}, [])
    _, errs = parse_map_args(["ARR__c", "=arr"])
    assert len(errs) == 2
